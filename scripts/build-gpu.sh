#!/usr/bin/env bash
# Builds fcnlab on the GPU machine against its CUDA LibTorch (the recipe of ../shared/gpu/README.md).
# That machine has CUDA LibTorch (from the Python torch wheel), nvcc, cmake and ninja, but none of
# toml++, HDF5, spdlog, xxHash or turbojpeg and no package registry: the Debian 12 packages are
# fetched here beforehand (`../shared/gpu/fetch-debs.sh .gpu-debs`) and carried along in .gpu-debs/.
# Usage (on the GPU machine, from the repository root): scripts/build-gpu.sh [build-dir]
set -euo pipefail
build=${1:-build-gpu}
[ -d .gpu-debs ] && ls .gpu-debs/*.deb >/dev/null 2>&1 || {
  echo "build-gpu: no .gpu-debs/*.deb; run ../shared/gpu/fetch-debs.sh .gpu-debs on the CPU machine first" >&2
  exit 1
}
mkdir -p /opt/deps
for f in .gpu-debs/*.deb; do dpkg -x "$f" /opt/deps; done   # unpack only, never into /
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu:/opt/deps/usr/lib/x86_64-linux-gnu/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# TORCH_CMAKE_PREFIX: another LibTorch's CMake prefix (a dry run of this recipe on the CPU machine).
TP=${TORCH_CMAKE_PREFIX-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')}
arch=$(python3 -c 'import torch;c=torch.cuda.get_device_capability();print(f"{c[0]}.{c[1]}")' 2>/dev/null || echo 9.0)
# FCNLAB_TURBOJPEG_DIRECT: libjpeg-turbo's CMake config refers to /usr/lib, not /opt/deps.
# Tests on, for the CUDA-only tests (tests/cuda/, fcnlab_test_cuda; Catch2 v2 comes with .gpu-debs).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFCNLAB_BUILD_TESTS=ON -DFCNLAB_TURBOJPEG_DIRECT=ON \
  -DCMAKE_PREFIX_PATH="$TP;/opt/deps/usr" \
  -DHDF5_ROOT=/opt/deps/usr/lib/x86_64-linux-gnu/hdf5/serial \
  -DTORCH_CUDA_ARCH_LIST="$arch"
# fcnlab_test_cuda exists where LibTorch has CUDA (not in a dry run against the CPU LibTorch). Both
# targets in one (parallel) build; should the tests fail to build, fcnlab alone still must.
if grep -qs fcnlab_test_cuda "$build/build.ninja"; then
  if cmake --build "$build" --target fcnlab fcnlab_test_cuda; then
    echo "build-gpu: $build/tests/fcnlab_test_cuda (the CUDA-only tests)"
  else
    echo "build-gpu: fcnlab_test_cuda did not build (errors above); building fcnlab alone" >&2
    cmake --build "$build" --target fcnlab
  fi
else
  echo "build-gpu: this LibTorch has no CUDA: no fcnlab_test_cuda"
  cmake --build "$build" --target fcnlab
fi
echo "build-gpu: $build/src/cli/fcnlab (export LD_LIBRARY_PATH=$LD_LIBRARY_PATH to run it)"
