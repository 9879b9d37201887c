#!/usr/bin/env bash
# Compile-checks (syntax only, no link) every translation unit against a newer LibTorch's headers,
# so API drift between Debian's LibTorch 1.13 (what we build and test with here) and the GPU
# machine's CUDA LibTorch 2.x shows up on the CPU machine, before a short GPU session is spent on it.
#
#   scripts/check-torch-api.sh [dir]                   (Debian unstable's LibTorch; dir .torch-api)
#   TORCH_API_SUITE=trixie scripts/check-torch-api.sh  (Debian 13's; dir .torch-api-trixie)
#
# Fetches the suite's libtorch-dev (headers only, ~3 MB) from Debian's registry once and unpacks it
# under <dir>/root (never into /); the directories are ignored by git. On 2026-11-27 unstable had
# 2.14.1 and trixie 2.6.0: the GPU machine's 2.11 lies between them. Only headers are checked.
# The code behind FCNLAB_WITH_CUDA is checked too where a CUDA toolkit's headers are found
# ($CUDA_HOME/include or /usr/local/cuda/include), with a stand-in for the
# c10/cuda/impl/cuda_cmake_macros.h that only a CUDA build of LibTorch generates. Exit status
# non-zero when any file fails; the errors are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${TORCH_API_SUITE:-sid}
default_dir=.torch-api
[ "$suite" = sid ] || default_dir=.torch-api-$suite
dir=${1:-$default_dir}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root="$dir/root"
if [ ! -d "$root/usr/include/torch" ]; then
  mkdir -p "$dir"
  echo "fetching the libtorch-dev package index of Debian $suite from $mirror"
  curl -fsS --max-time 120 "$mirror/dists/$suite/main/binary-amd64/Packages.xz" -o "$dir/Packages.xz"
  deb=$(xz -dc "$dir/Packages.xz" | awk '/^Package: libtorch-dev$/ {p=1} p && /^Filename:/ && !done {print $2; done=1}')
  [ -n "$deb" ] || { echo "check-torch-api: no libtorch-dev in $mirror $suite" >&2; exit 2; }
  echo "fetching $deb"
  curl -fsS --max-time 300 "$mirror/$deb" -o "$dir/libtorch-dev.deb"
  dpkg -x "$dir/libtorch-dev.deb" "$root"
fi
inc="$root/usr/include"
version=$(cat "$inc/torch/csrc/api/include/torch/version.h" "$inc/torch/headeronly/version.h" 2>/dev/null | awk -F'"' '/define TORCH_VERSION /{getline; print $2; exit} /define TORCH_VERSION "/{print $2; exit}' || true)

# The other dependencies are the system's (Debian packages), as in the real build.
# The C++ standard the headers demand, as CMakeLists.txt picks it (2.14 refuses C++17).
std=c++17
grep -q '__cplusplus < 202002L' "$inc/torch/csrc/api/include/torch/all.h" && std=c++20
echo "checking against LibTorch ${version:-unknown} headers in $inc with -std=$std"
flags=(-std=$std -fsyntax-only -Wall -Wextra -Werror -Wno-error=deprecated-declarations
       -isystem "$inc" -isystem "$inc/torch/csrc/api/include"
       -I src -I /usr/include/hdf5/serial -D_GLIBCXX_USE_CXX11_ABI=1)
# src/ and tests/ (tests/catch_torch.h keeps Catch2's CHECK over c10's, which 2.x defines).
files=$(ls src/*/*.cpp tests/*.cpp)
test_flags=(-I tests -DFCNLAB_EXE='"fcnlab"' -DFCNLAB_SOURCE_DIR='"."' -DFCNLAB_SHARED_DIR='"../shared"')
fail=0
check() {
  local f=$1; shift
  local extra=()
  case $f in tests/*) extra=("${test_flags[@]}") ;; esac
  if ! out=$(g++ "${flags[@]}" "${extra[@]}" "$@" "$f" 2>&1); then
    echo "FAIL $f $*"; echo "$out" | grep -E 'error|note: ' | head -20; return 1
  fi
  if grep -q 'deprecated' <<<"$out"; then echo "deprecated API in $f:"; echo "$out" | grep -A2 deprecated | head -12; fi
}
jobs=$(nproc)
pids=()
for f in $files; do
  (check "$f") &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$jobs" ]; then wait "${pids[0]}" || fail=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
cuda_inc=${CUDA_HOME:-/usr/local/cuda}/include
if [ -f "$cuda_inc/cuda_runtime_api.h" ]; then
  mkdir -p "$dir/cuda-stub/c10/cuda/impl"
  printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' >"$dir/cuda-stub/c10/cuda/impl/cuda_cmake_macros.h"
  for f in $(grep -l FCNLAB_WITH_CUDA src/*/*.cpp) tests/cuda/*.cpp; do
    echo "CUDA path: $f"
    check "$f" -DFCNLAB_WITH_CUDA=1 -isystem "$dir/cuda-stub" -isystem "$cuda_inc" || fail=1
  done
else
  echo "no CUDA headers at $cuda_inc: the FCNLAB_WITH_CUDA code was not checked"
fi
[ "$fail" = 0 ] && echo "check-torch-api: all files compile against LibTorch ${version:-?} headers" || echo "check-torch-api: failures above"
exit "$fail"
