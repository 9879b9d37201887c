#!/usr/bin/env bash
# Downloads PASCAL VOC 2012 trainval (and, with --sbd, the SBD-augmented labels) under datasets/,
# verifies the published checksums, unpacks, and prints the data.root to use.
#
#   datasets/download_voc.sh [--dir DIR] [--sbd]
#
# VOC2012: http://host.robots.ox.ac.uk/pascal/VOC/voc2012/ (VOCtrainval_11-May-2012.tar, 1.9 GB,
#          MD5 6cd6e144f989b92b3379bac3b3de84fd as published by torchvision's VOCSegmentation).
# SBD:     the "SegmentationClassAug" labels and train_aug list used by DeepLab/FCN follow-ups
#          (Hariharan et al. 2011, converted to VOC-style grey PNGs), 10,582 training images.
#          No checksum is published for this community archive: the script prints its size, and
#          FCNLAB_SBD_MD5=<md5> makes it verify one you trust. train_aug.txt comes from deeplab-pytorch.
set -euo pipefail

DIR="$(cd "$(dirname "$0")" && pwd)"
SBD=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --sbd) SBD=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "download_voc.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

VOC_URL="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
VOC_MD5="6cd6e144f989b92b3379bac3b3de84fd"
SBD_URL="https://www.dropbox.com/s/oeu149j8qtbs1x0/SegmentationClassAug.zip?dl=1"
SBD_MD5="${FCNLAB_SBD_MD5:-}"
TRAIN_AUG_URL="https://raw.githubusercontent.com/kazuto1011/deeplab-pytorch/master/data/datasets/voc12/train_aug.txt"

fetch() {  # url output
  if [[ -s "$2" ]]; then echo "have $2"; return; fi
  echo "downloading $1"
  if command -v curl >/dev/null; then curl -L --fail --retry 3 -o "$2.part" "$1"
  else wget -O "$2.part" "$1"; fi
  mv "$2.part" "$2"
}

check_md5() {  # file md5
  [[ -z "$2" ]] && { echo "no published MD5 for $1; size $(stat -c %s "$1") bytes"; return; }
  echo "$2  $1" | md5sum -c - || { echo "checksum mismatch for $1: delete it and retry" >&2; exit 1; }
}

mkdir -p "$DIR"
cd "$DIR"
fetch "$VOC_URL" VOCtrainval_11-May-2012.tar
check_md5 VOCtrainval_11-May-2012.tar "$VOC_MD5"
if [[ ! -d VOCdevkit/VOC2012/JPEGImages ]]; then
  echo "unpacking VOC2012"
  tar -xf VOCtrainval_11-May-2012.tar
fi
ROOT="$DIR/VOCdevkit/VOC2012"

if [[ $SBD -eq 1 ]]; then
  fetch "$SBD_URL" SegmentationClassAug.zip
  check_md5 SegmentationClassAug.zip "$SBD_MD5"
  if [[ ! -d "$ROOT/SegmentationClassAug" ]]; then
    echo "unpacking SegmentationClassAug"
    unzip -q SegmentationClassAug.zip -d "$ROOT"
    rm -rf "$ROOT/__MACOSX"
  fi
  fetch "$TRAIN_AUG_URL" "$ROOT/ImageSets/Segmentation/train_aug.txt"
  # Keep SBD training images out of VOC val (the usual 10,582-image train_aug list already is).
  echo "SBD: data.label_dir = \"SegmentationClassAug\"  data.train_split = \"train_aug\""
fi

echo
echo "done. Use:  data.root = \"$ROOT\""
echo "check it:   fcnlab check-data data.root=$ROOT"
