#!/usr/bin/env bash
# Builds fcnlab and runs its test suite against a LibTorch 2.x on the CPU machine: Debian unstable's
# libtorch-dev (2.14 when written) in a Debian unstable chroot. Debian 12 has only LibTorch 1.13, and
# the GPU machine (CUDA LibTorch 2.11) is lent to few sessions; scripts/check-torch-api.sh only
# compiles against 2.x headers. This runs the 2.x code paths (autocast's 2.4 API, ForeachSGD's
# pointer-keyed optimiser state, checkpoints, the fused CE and conv+ReLU nodes, ...) for real.
# It also builds with unstable's compiler and libraries (GCC, fmt, HDF5, toml++, spdlog), so it
# shows what a newer Debian needs. Catch2 stays v2 (unstable has v3): Debian 12's package is installed
# in the chroot.
#
#   scripts/test-torch-2x.sh [chroot-dir] [ctest args...]     (default /opt/fcnlab-sid)
#
# Needs root (debootstrap, chroot, bind mounts) and Debian's package registry; about 3 GB of disk.
# The first run takes a while (bootstrap ~3 min, packages ~1 min, build ~25 min on 2 cores); later
# runs reuse the chroot, the build dir (build-sid/) and ccache. The repository's parent directory is
# bind-mounted at the same path inside the chroot, so ../shared and absolute paths work there as here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
parent=$(dirname "$repo")
root=${1:-/opt/fcnlab-sid}
shift || true
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "test-torch-2x: needs root (debootstrap, chroot, mount)" >&2; exit 1; }

if [ ! -x "$root/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  echo "test-torch-2x: bootstrapping Debian unstable into $root"
  debootstrap --variant=minbase sid "$root" "$mirror"
fi

mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true; done
}
trap cleanup EXIT
bind() {  # source, target inside the chroot
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
  mounts+=("$root$2")
}
mkdir -p "$root/proc"
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
bind /dev /dev
bind "$parent" "$parent"

packages=(build-essential cmake ccache pkg-config git libtorch-dev libtomlplusplus-dev
          libboost-program-options-dev libhdf5-dev hdf5-tools libfmt-dev libspdlog-dev libpng-dev
          libturbojpeg0-dev libxxhash-dev python3 python3-h5py python3-numpy python3-torchvision)
# Debian 12's Catch2 v2 (header-only), fetched here and installed there.
debs=$(mktemp -d)
(cd "$debs" && apt-get download catch2 >/dev/null 2>&1) || { apt-get update -qq && (cd "$debs" && apt-get download catch2); }
cp "$debs"/catch2_*.deb "$root/tmp/"
rm -rf "$debs"

# The ctest arguments quoted for the inner shell (a -R regex may hold '|' or spaces).
ctest_args=""; [ $# -eq 0 ] || ctest_args=$(printf '%q ' "$@")
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive CCACHE_DIR=/root/.ccache bash -c "$1"; }
# Unstable's snapshot on some mirrors outlives its Release file's Valid-Until: do not refuse it.
in_root "apt-get -o Acquire::Check-Valid-Until=false update -qq &&
         apt-get install -y -qq --no-install-recommends ${packages[*]} >/dev/null &&
         dpkg -i /tmp/catch2_*.deb >/dev/null"
in_root "dpkg-query -W -f='test-torch-2x: \${Package} \${Version}\n' libtorch-dev g++ libfmt-dev libhdf5-dev libtomlplusplus-dev catch2"

in_root "cd '$repo' && cmake -S . -B build-sid -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null &&
         cmake --build build-sid -j$(nproc) && cd build-sid && ctest --output-on-failure -j$(nproc) $ctest_args"
