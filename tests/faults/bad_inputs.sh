#!/usr/bin/env bash
# Scenario 4: bad input. Each case must exit 2 (usage/config) or 1 (runtime), print a message
# naming the file/key/value, and leave no finished result file.
source "$(dirname "$0")/lib.sh"
make_toy 8 4
TOY=$WORK/toy
first_train=$(head -1 "$TOY/ImageSets/Segmentation/train.txt")
first_val=$(head -1 "$TOY/ImageSets/Segmentation/val.txt")
CASES=0
# shellcheck disable=SC2046
TRAIN=(train $(toy_args) optim.iterations=2 checkpoint.every=0)

# png FILE COLOR_TYPE W H VALUE: a tiny 8-bit PNG (0 grey, 2 RGB, 3 palette) filled with VALUE.
png() {
  python3 - "$@" <<'PY'
import struct, sys, zlib
f, ct, w, h, v = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ch = 3 if ct == 2 else 1
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\0" + bytes([v]) * (w * ch) for _ in range(h))
out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ct, 0, 0, 0))
if ct == 3: out += chunk(b"PLTE", bytes(range(256)) * 3)
out += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(f, "wb").write(out)
PY
}
# no finished result file below DIR
no_result() {
  local f
  for f in $(find "$1" -name '*.h5' 2>/dev/null); do
    [ "$(run_status "$f")" != finished ] || fail "$2: a finished result file was written: $f"
  done
}
# data_case NAME CODE PATTERN MUTATION...: a fresh copy of the toy set, mutated, then `fcnlab train`.
data_case() {
  local name=$1 code=$2 pattern=$3
  shift 3
  local d=$WORK/case-$CASES
  rm -rf "$d"; cp -r "$TOY" "$d"
  (cd "$d" && eval "$*")
  expect_fail "$code" "$pattern" "$name" -- "$FCNLAB" "${TRAIN[@]}" data.root="$d" run.results_dir="$d/res"
  no_result "$d/res" "$name"
  CASES=$((CASES + 1))
}
img=JPEGImages/$first_train.jpg
lab=SegmentationClass/$first_train.png
data_case "truncated JPEG" 1 "$first_train\.jpg" "head -c 600 $img > t && mv t $img"
data_case "random bytes named .jpg" 1 "$first_train\.jpg" "head -c 5000 /dev/urandom > $img"
data_case "RGB PNG label" 1 "$first_train\.png.*(RGB|colou?r type|palette|grey)" "png $lab 2 96 96 1"
data_case "label value out of range" 1 "$first_train\.png.*(9|range|classes)" "png $lab 3 96 96 9"
data_case "image/label size mismatch" 1 "$first_train.*(size|64|96)" "png $lab 3 64 64 1"
data_case "missing label" 1 "$first_val\.png" "rm SegmentationClass/$first_val.png"
data_case "empty split list" 1 "train\.txt.*(empty|no )" ": > ImageSets/Segmentation/train.txt"
data_case "missing split list" 1 "val\.txt" "rm ImageSets/Segmentation/val.txt"

# config errors: exit 2, the key, value and where it came from
cfg() { expect_fail 2 "$2" "$1" -- "$FCNLAB" "${TRAIN[@]}" data.root="$TOY" run.results_dir="$WORK/cres" "${@:3}"; CASES=$((CASES + 1)); }
cfg "unknown config key" "model\.skp.*model\.skip" model.skp=8
cfg "wrong value type" "optim\.lr.*(abc|number|float)" 'optim.lr="abc"'
cfg "bad enum value" "model\.fusion.*avg.*(sum|concat)" model.fusion=avg
cfg "non-existent --config" "nope\.toml" --config "$WORK/nope.toml"
echo 'base = "b.toml"' >"$WORK/a.toml"; echo 'base = "a.toml"' >"$WORK/b.toml"
cfg "base cycle" "(cycle|circular).*(a|b)\.toml" --config "$WORK/a.toml"
printf '[model]\nskip = "eight"\n' >"$WORK/typed.toml"
cfg "wrong type in a file" "typed\.toml:2.*model\.skip" --config "$WORK/typed.toml"
no_result "$WORK/cres" "config errors"
printf 'base = "%s"\n[[grid]]\nmodel.skp = [32, 8]\n' "$SRC/configs/toy.toml" >"$WORK/grid.toml"
expect_fail 2 "grid\.toml:3.*model\.skp.*model\.skip" "sweep grid with an unknown key" -- "$FCNLAB" sweep "$WORK/grid.toml"
CASES=$((CASES + 1))

# results directory that cannot be created/written (root ignores permissions: a file in the way)
: >"$WORK/blocker"
expect_fail 1 "blocker" "unwritable results directory" -- "$FCNLAB" "${TRAIN[@]}" data.root="$TOY" run.results_dir="$WORK/blocker/res"
CASES=$((CASES + 1))

# a disk that fills up during a write: file-size limits (SIGXFSZ ignored, so writes fail with EFBIG)
# small enough to hit the checkpoint, the final weights, and the run file.
for kb in 64 400 1200; do
  d=$WORK/full-$kb
  rc=0
  out=$(trap '' XFSZ; ulimit -f "$kb"; "$FCNLAB" "${TRAIN[@]}" checkpoint.every=1 data.root="$TOY" run.results_dir="$d" 2>&1) || rc=$?
  if [ $rc = 0 ]; then
    note "file limit ${kb} KiB: the run fit (rc 0)"
    [ "$(run_status "$(find "$d" -name '*.h5' | head -1)")" = finished ] || fail "rc 0 but no finished file at ${kb} KiB"
  else
    [ $rc = 1 ] || fail "disk full at ${kb} KiB: exit $rc, expected 1: $out"
    grep -Eq "$d|File too large|No space" <<<"$out" || fail "disk full at ${kb} KiB: message names no file: $out"
    no_result "$d" "disk full at ${kb} KiB"
    note "ok (1): disk full at ${kb} KiB: $(echo "$out" | grep -E "fcnlab:" | head -1 | cut -c1-160)"
  fi
  CASES=$((CASES + 1))
done

# result files that are not run files: truncated, random bytes, a foreign HDF5 file
"$FCNLAB" "${TRAIN[@]}" data.root="$TOY" run.results_dir="$WORK/good" >/dev/null 2>&1 || fail "the good run failed"
good=$(find "$WORK/good" -name '*.h5' | head -1)
mkdir -p "$WORK/h5"
head -c $(( $(stat -c %s "$good") / 2 )) "$good" >"$WORK/h5/truncated.h5"
head -c 4096 /dev/urandom >"$WORK/h5/random.h5"
h5copy -i "$good" -o "$WORK/h5/foreign.h5" -s /train -d /train 2>/dev/null || fail "h5copy failed"
for f in truncated random foreign; do
  for cmd in show rerun; do
    expect_fail 1 "$f\.h5" "$f .h5 given to $cmd" -- "$FCNLAB" $cmd "$WORK/h5/$f.h5"
    CASES=$((CASES + 1))
  done
  mkdir -p "$WORK/rep-$f" && cp "$WORK/h5/$f.h5" "$WORK/rep-$f/"
  expect_fail 1 "$f\.h5" "$f .h5 given to report" -- "$FCNLAB" report "$WORK/rep-$f"
  CASES=$((CASES + 1))
done
note "PASS: $CASES bad inputs, each refused with its exit code and a message naming it"
