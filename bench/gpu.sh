#!/usr/bin/env bash
# One command for a GPU device call (issue 9): build against the machine's CUDA LibTorch, check
# correctness on CUDA, then time fcnlab against eager PyTorch and torch.compile on the same GPU,
# printing the side-by-side table last. Carry .gpu-debs (see scripts/build-gpu.sh).
#   bench/gpu.sh [iters]
# NOTE: written on a CPU-only session and not yet run on a GPU; fcnlab's optim.amp /
# optim.channels_last are not implemented yet, so the bf16 row has no fcnlab figure.
set -uo pipefail
iters=${1:-30}
cd "$(dirname "$0")/.."
start=$(date +%s)
log=$(mktemp -d)
echo "== build"
if ! scripts/build-gpu.sh build-gpu >"$log/build.log" 2>&1; then tail -40 "$log/build.log"; exit 1; fi
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu:/opt/deps/usr/lib/x86_64-linux-gnu/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
F=build-gpu/src/cli/fcnlab
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "build: $(( $(date +%s) - start )) s"

echo "== correctness: toy training on CUDA vs CPU (mean IoU within 0.05), deterministic CUDA twice identical"
$F make-toy --out "$log/toy" >/dev/null
common="--config configs/toy.toml data.root=$log/toy optim.iterations=200 eval.every=0"
miou() { $F show --no-config "$1" | awk '$1 == "mean_iou" {print $2}'; }
$F train $common run.device=cuda run.deterministic=false run.results_dir="$log/cuda" >"$log/cuda.log" 2>&1 || { tail -20 "$log/cuda.log"; exit 1; }
$F train $common run.device=cpu run.results_dir="$log/cpu" >"$log/cpu.log" 2>&1 || { tail -20 "$log/cpu.log"; exit 1; }
a=$(miou "$(ls "$log"/cuda/adhoc/*.h5)"); b=$(miou "$(ls "$log"/cpu/adhoc/*.h5)")
echo "toy mean IoU: cuda $a, cpu $b"
python3 -c "import sys; sys.exit(0 if abs($a-$b) <= 0.05 else 1)" && echo "PASS: within 0.05" || echo "FAIL: differ by more than 0.05"
$F train $common run.device=cuda run.deterministic=true run.results_dir="$log/det" >"$log/det.log" 2>&1 || { tail -20 "$log/det.log"; exit 1; }
if $F rerun "$(ls "$log"/det/adhoc/*.h5)" --tolerance 0 >"$log/rerun.log" 2>&1; then echo "PASS: deterministic CUDA rerun identical"; else tail -15 "$log/rerun.log"; echo "FAIL: deterministic CUDA rerun differs"; fi

echo "== timing ($iters steps after warm-up, median)"
fcn() { $F bench train --config configs/fcn8s.toml model.pretrained= run.device=cuda --iters "$iters" "$@" 2>&1 | awk '/ms\/step/ {print $4}'; }
py() { python3 bench/eager_reference.py --iters "$iters" "$@" | python3 -c 'import json,sys; [print(json.loads(l)["img_per_s"]) for l in sys.stdin]'; }
f1=$(fcn --batch 1 --size 500); p1=($(py --batch 1 --size 500 --compile --compile-mode reduce-overhead))
f2=$($F bench train --config configs/fcn8s.toml model.pretrained= run.device=cuda optim.amp=bf16 optim.channels_last=true --batch 16 --size 512 --iters "$iters" 2>&1 | awk '/ms\/step/ {print $4}')
p2=($(py --batch 16 --size 512 --amp bf16 --channels-last --compile))
echo
echo "| setting (FCN-8s VGG16, 100-px pad, 21 classes, SGD) | fcnlab img/s | eager img/s | torch.compile img/s |"
echo "|---|---|---|---|"
echo "| batch 1, 500x500, fp32/TF32 | ${f1:-n/a} | ${p1[0]:-n/a} | ${p1[1]:-n/a} |"
echo "| batch 16, 512x512, bf16, channels_last | ${f2:-n/a (not implemented)} | ${p2[0]:-n/a} | ${p2[1]:-n/a} |"
echo "total: $(( $(date +%s) - start )) s"
