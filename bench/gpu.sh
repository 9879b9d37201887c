#!/usr/bin/env bash
# One command for a GPU device call: build against the machine's CUDA LibTorch, check
# correctness on CUDA, then time fcnlab against eager PyTorch and torch.compile on the same GPU in
# the same call, printing the side-by-side table last. Carry .gpu-debs (scripts/build-gpu.sh).
#   bench/gpu.sh [iters]        (logs and JSON figures go to $OUT when set; datasets, run files and
#                               the nsys report to a temp dir, so that little has to come back)
#   bench/gpu.sh --cpu-smoke    the same script on the CPU with the build/ binary, a width-1/16
#                               network and tiny sizes: checks the script itself, not speed
# Every step runs under `timeout` within one budget (GPU_SH_BUDGET, default 460 s, so the call stays
# inside 8 minutes): a step that hangs or runs long is cut, later steps shrink or are
# skipped, and the table is printed in any case, with n/a where a figure is missing. The most
# important figures come first: batch 16 bf16 (fcnlab, fcnlab unfused, eager,
# compile), then batch 1 likewise, then --real, then the nsys kernel profile.
# Ran on an H100 (PyTorch/LibTorch 2.11) on 2026-11-27 (commit e508cad), 361 s and 386 s; --cpu-smoke runs it on the CPU
# machine (fcnlab on LibTorch 1.13, bench/eager_reference.py on Debian's PyTorch 1.13).
set -uo pipefail
smoke=false
[ "${1:-}" = "--cpu-smoke" ] && { smoke=true; shift; }
iters=${1:-20}
cd "$(dirname "$0")/.."
start=$(date +%s)
work=$(mktemp -d)
log=${OUT:-$work}
mkdir -p "$log"
elapsed() { echo "$(( $(date +%s) - start )) s"; }
budget=${GPU_SH_BUDGET:-460}
$smoke && budget=${GPU_SH_BUDGET:-900}
left() { echo $(( start + budget - $(date +%s) )); }
# within SECONDS CMD...: CMD for at most SECONDS, or what is left of the budget if less; skipped
# (status 124, as timeout's) when under 10 s are left.
within() {
  local want=$1 l
  shift
  l=$(left)
  if (( l < 10 )); then echo "skipped (time budget spent): ${*:1:3}" >&2; return 124; fi
  (( want > l )) && want=$l
  timeout -k 5 "$want" "$@"
}
if $smoke; then
  F=build/src/cli/fcnlab; dev=cpu; iters=2; its=20
  b1="--batch 1 --size 100"; b16="--batch 2 --size 64"; crop=64; small="model.width=0.0625 model.fc_channels=64"
  pysmall="--width 0.0625 --fc 64"
  echo "build" >"$log/build.log"
else
  echo "== build (logs in $log)"
  if ! within 300 scripts/build-gpu.sh build-gpu >"$log/build.log" 2>&1; then tail -40 "$log/build.log"; exit 1; fi
  export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu:/opt/deps/usr/lib/x86_64-linux-gnu/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  F=build-gpu/src/cli/fcnlab; dev=cuda; its=200
  b1="--batch 1 --size 500"; b16="--batch 16 --size 512"; crop=512; small=""; pysmall=""
fi
card=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
grep -E "fcnlab: LibTorch" "$log/build.log" | sed 's/^-- //'
echo "card: ${card:-unknown}; build done at $(elapsed)"

echo "== CUDA-only unit tests (tests/cuda: fused conv+ReLU, fused CE, ForeachSGD, loss scaling, a step vs the CPU)"
if $smoke; then
  echo "not in a CPU build (fcnlab_test_cuda exists only against a CUDA LibTorch)"
elif [ -x build-gpu/tests/fcnlab_test_cuda ]; then
  if within 120 build-gpu/tests/fcnlab_test_cuda >"$log/cuda-tests.log" 2>&1; then
    echo "PASS: $(grep -E '^All tests passed' "$log/cuda-tests.log")"
  else
    echo "FAIL: fcnlab_test_cuda (failures below; whole log in cuda-tests.log)"
    grep -E -B6 -A9 'FAILED:' "$log/cuda-tests.log" | head -80
    grep -E '^test cases:|^assertions:' "$log/cuda-tests.log"
  fi
else
  echo "FAIL: build-gpu/tests/fcnlab_test_cuda was not built (see build.log)"
fi
echo "unit tests done at $(elapsed)"

echo "== correctness: toy training on CUDA vs the CPU (mean IoU within 0.05); deterministic CUDA twice identical"
$smoke && echo "(--cpu-smoke: $its iterations and all on the CPU: the PASS/FAIL verdicts check the script, not the numerics)"
$F make-toy --out "$work/toy" >/dev/null
common="--config configs/toy.toml data.root=$work/toy optim.iterations=$its eval.every=0 run.threads=0"
miou() { $F show --no-config "$1" | awk '$1 == "mean_iou" {print $2}'; }
# The toy trainings are small (a few % of one GPU, a few host threads each) and independent, so they
# run side by side: ~1 training's time instead of 7 (the timing below runs alone). Each writes its
# mean IoU to $work/NAME.miou, or its failure to $work/NAME.fail.
train_bg() {  # name, overrides...
  local name=$1; shift
  (
    if within 120 $F train $common run.results_dir="$work/$name" "$@" >"$log/$name.log" 2>&1; then
      miou "$(ls "$work/$name"/adhoc/*.h5)" >"$work/$name.miou"
    else
      { echo "FAIL: $name training failed:"; tail -15 "$log/$name.log"; } >"$work/$name.fail"
    fi
  ) &
}
result() { cat "$work/$1.fail" >&2 2>/dev/null; cat "$work/$1.miou" 2>/dev/null; }
within_eps() { python3 -c "print('PASS' if abs(float('${1:-nan}') - float('${2:-nan}')) <= 0.05 else 'FAIL')"; }
# The fast path (cuDNN benchmark, nondeterministic kernels); the toy preset itself is deterministic.
fast="run.device=$dev run.deterministic=false"
variants=("cuda $fast" "cuda_bf16 $fast optim.amp=bf16 optim.channels_last=true")
$smoke || variants+=("cuda_fp16 $fast optim.amp=fp16")
# optim.fuse_conv_relu (cuDNN's fused conv + bias + ReLU) against the same run unfused, twice: without
# BatchNorm, since the toy preset's BatchNorm leaves nothing to fuse. Without BatchNorm the toy's
# 200 iterations end far from convergence, where nondeterministic kernels alone move the final mean
# IoU by tenths (on an H100, 0.375 unfused against 0.560 fused, with losses equal to 1e-4 at step
# 20); so the verdict is on the first 20 steps' losses, and the unfused pair shows the noise.
nobn="$fast optim.amp=bf16 optim.channels_last=true model.batchnorm=false"
# The host's cores are shared out (run.threads each): oversubscribed intra-op threads made the 6
# --cpu-smoke trainings 4x slower on 2 cores than one after another.
share="run.threads=$(( $(nproc) / (${#variants[@]} + 5) > 1 ? $(nproc) / (${#variants[@]} + 5) : 1 ))"
train_bg cpu run.device=cpu $share
for variant in "${variants[@]}"; do train_bg $variant $share; done
train_bg nobn $nobn $share
train_bg nobn2 $nobn $share
train_bg nobn_fused $nobn optim.fuse_conv_relu=true $share
train_bg det run.device=$dev run.deterministic=true $share
wait
cpu=$(result cpu)
echo "toy mean IoU, cpu fp32: ${cpu:-n/a}"
for variant in "${variants[@]}"; do
  set -- $variant
  name=$1; shift
  v=$(result "$name")
  echo "toy mean IoU, $name ($*): ${v:-n/a}: $(within_eps "$v" "$cpu") (within 0.05 of the CPU)"
done
# The largest relative difference between two runs' train losses over their first 20 steps.
curve_diff() {
  python3 - "$work/$1"/adhoc/*.h5 "$work/$2"/adhoc/*.h5 <<'PY' 2>/dev/null || echo nan
import sys, h5py
a, b = ([float(v) for v in h5py.File(f, "r")["train/loss"][:20]] for f in sys.argv[1:3])
print(f"{max(abs(x - y) / abs(y) for x, y in zip(a, b)):.2e}" if len(a) == len(b) == 20 else "nan")
PY
}
u=$(result nobn); u2=$(result nobn2); f=$(result nobn_fused)
fu=$(curve_diff nobn_fused nobn); uu=$(curve_diff nobn2 nobn)
echo "toy without BatchNorm, bf16, mean IoU: unfused ${u:-n/a} and ${u2:-n/a}, optim.fuse_conv_relu ${f:-n/a}"
echo "  losses of the first 20 steps, largest relative difference: fused vs unfused $fu, unfused vs unfused $uu:" \
  "$(python3 -c "print('PASS' if float('$fu') <= 0.01 else 'FAIL')") (fused within 1% of unfused)"
# The rerun (alone) must reproduce the deterministic run that trained beside the others.
if v=$(result det) && [ -n "$v" ] && \
   within 120 $F rerun "$(ls "$work"/det/adhoc/*.h5)" --tolerance 0 >"$log/rerun.log" 2>&1; then
  echo "PASS: deterministic CUDA run (mean IoU $v) reran identically"
else
  tail -15 "$log/rerun.log" 2>/dev/null; echo "FAIL: deterministic CUDA rerun differs or failed"
fi
echo "correctness done at $(elapsed)"

echo "== timing: $iters steps per repeat, median of 3 repeats, same GPU, same call"
# The FCN of eager_reference.py: learned (trainable) upsampling and no score scaling, random init,
# and its optimiser: one parameter group (the preset's bias group would add a few launches a step).
same="model.pretrained= model.upsample=learned model.score_scaling=false optim.bias_lr_mult=1 optim.bias_decay_mult=1"
bench() {  # name, fcnlab bench train args...
  local name=$1; shift
  within 90 $F bench train --config configs/fcn8s.toml $same run.device=$dev $small --iters "$iters" --repeats 3 \
    --json "$@" >"$log/$name.json" 2>"$log/$name.err" || { tail -5 "$log/$name.err"; echo '{}' >"$log/$name.json"; }
}
field() { python3 -c "import json; v=json.load(open('$1')).get('$2'); print('n/a' if v is None else v)" 2>/dev/null || echo n/a; }
py() {  # name, seconds, eager_reference args...
  local name=$1; shift
  local limit=$1; shift
  within "$limit" python3 bench/eager_reference.py --iters "$iters" --repeats 3 $pysmall "$@" >"$log/$name.jsonl" 2>"$log/$name.err" || tail -5 "$log/$name.err"
}
pyfield() { python3 -c "import json; r=[json.loads(l) for l in open('$1')]; print(r[$2]['$3'] if len(r) > $2 else 'n/a')" 2>/dev/null || echo n/a; }

bf16="optim.amp=bf16 optim.channels_last=true"
# The fcn8s preset sets optim.fuse_conv_relu = true (+16% at batch 16 bf16 on an H100, 2026-11-27);
# the unfused step is timed beside it. (On --cpu-smoke's CPU the node runs conv2d and relu_.)
unfused="optim.fuse_conv_relu=false"
bench f2 $bf16 $b16 --breakdown
bench f2u $bf16 $unfused $b16
py p2 150 $b16 --amp bf16 --channels-last --compile
echo "batch 16 done at $(elapsed)"
bench f1 $b1
bench f1u $unfused $b1
# eager_reference prints (and flushes) the eager figure before it compiles: a cut compile keeps it.
py p1 120 $b1 --compile --compile-mode reduce-overhead
echo "batch 1 done at $(elapsed)"
# --real: JPEG decode + augmentation on the host's cores, 500x500 toy JPEGs, 512 crops.
within 60 $F make-toy --out "$work/toy500" --size 500 --train 160 --val 4 --classes 21 >/dev/null
bench f3 $bf16 $b16 --real data.root="$work/toy500" data.crop=$crop data.scale=[0.5,2.0] data.hflip=true \
  data.workers="$(( $(nproc) > 2 ? $(nproc) - 2 : 1 ))"
echo "real loader done at $(elapsed)"

# Where the GPU time of a bf16 batch-16 step goes, by kernel (Nsight Systems), when nsys is there
# and time is left (the call should stay within 8 minutes).
if ! $smoke && command -v nsys >/dev/null && [ "$(left)" -gt 150 ]; then
  if within 120 nsys profile --trace=cuda --sample=none --cpuctxsw=none --force-overwrite true -o "$work/profile" \
       $F bench train --config configs/fcn8s.toml $same run.device=cuda $bf16 $b16 --iters 5 --repeats 1 \
       >"$log/nsys.log" 2>&1 &&
     within 60 nsys stats --force-export true --report cuda_gpu_kern_sum --format csv --output "$log/kernels" \
       "$work/profile.nsys-rep" >>"$log/nsys.log" 2>&1; then
    echo; echo "GPU time by kernel, 5 bf16 batch-16 steps (+ warm-up), top 15 (nsys):"
    python3 - "$log"/kernels*.csv <<'PY' || echo "(could not read the nsys summary)"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
col = lambda start: next(c for c in rows[0] if c.startswith(start))
pct, n, name = col("Time (%)"), col("Instances"), col("Name")
for r in rows[:15]:
    print(f"  {float(r[pct]):5.1f}%  {int(float(r[n])):5d} x  {r[name][:110]}")
PY
  else
    echo "(nsys profile failed: $log/nsys.log)"; tail -3 "$log/nsys.log"
  fi
fi
echo
echo "breakdown of one bf16 batch-16 step (synchronised between phases):"
python3 -c "import json; d=json.load(open('$log/f2.json')); [print(f'  {k:<16} {v:8.2f} ms') for k, v in d.get('phases_ms', {}).items()]" 2>/dev/null
echo
echo "card: ${card:-unknown}; PyTorch $(python3 -c 'import torch; print(torch.__version__)'); fcnlab $(git rev-parse --short HEAD)"
echo "| setting (FCN-8s VGG16, 100-px pad, 21 classes, SGD) | fcnlab img/s | peak MiB | eager img/s | torch.compile img/s | fcnlab / eager | fcnlab / compile |"
echo "|---|---|---|---|---|---|---|"
row() {  # label, fcnlab json, python jsonl
  local f e c
  f=$(field "$2" img_per_s); e=$(pyfield "$3" 0 img_per_s); c=$(pyfield "$3" 1 img_per_s)
  ratio() { python3 -c "print(f'{$1/$2:.2f}x')" 2>/dev/null || echo n/a; }
  echo "| $1 | $f | $(field "$2" peak_device_mib) | $e | $c | $(ratio "$f" "$e") | $(ratio "$f" "$c") |"
}
row "batch 1, 500x500, fp32/TF32 (fcnlab: the fcn8s preset, fused conv+ReLU; compile: reduce-overhead)" "$log/f1.json" "$log/p1.jsonl"
row "batch 1, as above, fcnlab with optim.fuse_conv_relu=false" "$log/f1u.json" "$log/p1.jsonl"
row "batch 16, 512x512, bf16, channels_last" "$log/f2.json" "$log/p2.jsonl"
row "batch 16, as above, fcnlab with optim.fuse_conv_relu=false" "$log/f2u.json" "$log/p2.jsonl"
f2=$(field "$log/f2.json" img_per_s); f3=$(field "$log/f3.json" img_per_s)
echo "| batch 16, 512 crops, bf16, channels_last, --real loader | $f3 | $(field "$log/f3.json" peak_device_mib) | | | $(python3 -c "print(f'{$f3/$f2:.0%} of synthetic')" 2>/dev/null || echo n/a) | |"
echo "total: $(elapsed)"
