#pragma once
// Catch2 in a test that uses LibTorch: include this instead of <catch2/catch.hpp>, before anything
// that includes <torch/torch.h>.
//
// LibTorch 2.x's c10/util/logging_is_not_google_glog.h defines a glog-style CHECK(cond) macro (it
// aborts the process). Whichever of the two headers comes last owns CHECK: after Catch2, every
// CHECK(a == b) in a test would silently become c10's abort, and CHECK(x, ...) would not compile.
// So LibTorch comes first, its CHECK is dropped, and Catch2 defines its own. (LibTorch 1.13's
// headers do not define it; the #undef is then a no-op.)
#include <torch/torch.h>

#ifdef CHECK
#undef CHECK
#endif

#include <catch2/catch.hpp>
