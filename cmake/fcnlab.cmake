# Helpers shared by the module CMakeLists.

# A torch precompiled header built once and reused by every target that includes torch.
add_library(fcnlab_torch_pch STATIC ${CMAKE_SOURCE_DIR}/cmake/torch_pch.cpp)
target_link_libraries(fcnlab_torch_pch PUBLIC ${TORCH_LIBRARIES} fcnlab_warnings)
target_precompile_headers(fcnlab_torch_pch PRIVATE <torch/torch.h>)

# fcnlab_module(name [TORCH] DEPS a b c): a static library from src/<name>/*.cpp.
function(fcnlab_module name)
  cmake_parse_arguments(M "TORCH" "" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(fcnlab_${name} STATIC ${srcs})
  target_include_directories(fcnlab_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(fcnlab_${name} PUBLIC ${M_DEPS} PRIVATE fcnlab_warnings)
  if(M_TORCH)
    fcnlab_use_torch(fcnlab_${name})
  endif()
endfunction()

function(fcnlab_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  target_precompile_headers(${target} REUSE_FROM fcnlab_torch_pch)
endfunction()
