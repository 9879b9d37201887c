#!/usr/bin/env bash
# Installs the Debian 12 packages fcnlab needs to build, test and plot, skipping those present.
# Idempotent; needs root (apt-get). Run by `make deps` and so by `make`, `make test`, `make sweep`.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config git clang-format
  libtorch-dev                      # LibTorch 1.13 (CPU)
  libtomlplusplus-dev               # TOML configs
  libboost-program-options-dev      # CLI
  libboost-dev                      # Boost.Math: t and noncentral t distributions (report verdicts)
  libhdf5-dev hdf5-tools            # result files (C and C++ API), h5dump
  libfmt-dev libspdlog-dev          # formatting, logging
  catch2                            # tests (v2)
  libpng-dev libturbojpeg0-dev      # image io
  libxxhash-dev                     # stable hashing
  python3 python3-h5py python3-matplotlib python3-numpy   # analysis/ plots and cross-checks
  python3-torchvision               # cross-implementation test of the VGG16 import, bench/
)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: error: installing packages needs root; run: sudo $0" >&2
  echo "install-deps: (or install them yourself: apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
