#!/usr/bin/env bash
# Adaptive seeds ([decide]) survive a kill: a toy sweep of two arms that differ by 1% in the
# learning rate (no real difference: the comparison stays undecided and takes round 2) runs
#   a) uninterrupted, and
#   b) killed (kill -9, the whole process group) once round 2 has begun, then resumed with the same
#      command.
# Checks: round 1 is 2 arms x 2 seeds; the kill landed in round 2 (round 1's 4 files, not all 6);
# --dry-run after the kill lists exactly the round-2 runs still missing; the resumed sweep exits 0
# with 6 finished run files; and its verdict table is identical to the uninterrupted sweep's.
source "$(dirname "$0")/lib.sh"
make_toy 8 4
cat > "$WORK/decide.toml" <<TOML
base = "$SRC/configs/toy.toml"
[set]
data.root = "$WORK/toy"
run.threads = 1
data.workers = 1
optim.batch_size = 4
optim.warmup = 2
optim.iterations = 12
checkpoint.every = 3
eval.every = 0
eval.examples = 2
eval.trimap_widths = [1, 2]
[[grid]]
optim.lr = [0.05, 0.0505]
[decide]
vs = ["optim.lr=0.05"]
metrics = ["mean_iou", "pixel_acc"]
min_seeds = 2
max_seeds = 3
seed_step = 1
resamples = 200
TOML
verdicts() {  # the last verdict table in a sweep's output: from "decide:" to "compute:"
  awk '/^decide:/ {buf = ""; on = 1} on {buf = buf $0 "\n"} /^compute/ {on = 0} END {printf "%s", buf}' "$1"
}

# a) uninterrupted
timeout 600 "$FCNLAB" sweep "$WORK/decide.toml" run.results_dir="$WORK/a" --jobs 2 >"$WORK/a.log" 2>&1 ||
  { tail -30 "$WORK/a.log" >&2; fail "the uninterrupted sweep failed"; }
grep -q "^round 2 of 2: 3 seeds per arm" "$WORK/a.log" || fail "the sweep did not take a second round: $(cat "$WORK/a.log")"
grep -q "^finished" "$WORK/a.log" || fail "the uninterrupted sweep did not finish"
[ "$(ls "$WORK"/a/decide/*.h5 | wc -l)" = 6 ] || fail "uninterrupted: expected 6 run files"
note "uninterrupted: $(grep "^compute" "$WORK/a.log" | tail -1)"

# b) killed in round 2
B=$WORK/b/decide
start_group timeout 600 "$FCNLAB" sweep "$WORK/decide.toml" run.results_dir="$WORK/b" --jobs 2 >"$WORK/b1.log" 2>&1
for _ in $(seq 1200); do
  grep -q "^round 2 of 2" "$WORK/b1.log" && compgen -G "$B/.work/*/ckpt-*.pt" >/dev/null &&
    [ "$(ls "$B"/*.h5 2>/dev/null | wc -l)" = 4 ] && break
  kill -0 "$BG_PID" 2>/dev/null || break
  sleep 0.1
done
kill_group "$BG_PID"
n=$(ls "$B"/*.h5 2>/dev/null | wc -l)
[ "$n" = 4 ] || fail "the kill did not land in round 2 ($n run files; see $WORK/b1.log)"
note "killed in round 2 with $n run files"
"$FCNLAB" sweep "$WORK/decide.toml" run.results_dir="$WORK/b" --dry-run >"$WORK/dry.log" 2>&1 || fail "--dry-run failed"
grep -q "^round 2 would add these 2 runs" "$WORK/dry.log" || fail "--dry-run after the kill: $(cat "$WORK/dry.log")"
[ "$(grep -c "run.seed=2" "$WORK/dry.log")" = 2 ] || fail "--dry-run does not list seed 2 of both arms: $(cat "$WORK/dry.log")"
timeout 600 "$FCNLAB" sweep "$WORK/decide.toml" run.results_dir="$WORK/b" --jobs 2 >"$WORK/b2.log" 2>&1 ||
  { tail -30 "$WORK/b2.log" >&2; fail "the resumed sweep failed"; }
[ "$(ls "$B"/*.h5 | wc -l)" = 6 ] || fail "resumed: expected 6 run files"
for f in "$B"/*.h5; do [ "$(run_status "$f")" = finished ] || fail "$f: not finished"; done
verdicts "$WORK/a.log" >"$WORK/a.verdicts"
verdicts "$WORK/b2.log" >"$WORK/b.verdicts"
[ -s "$WORK/a.verdicts" ] || fail "no verdict table in $WORK/a.log"
diff "$WORK/a.verdicts" "$WORK/b.verdicts" >&2 || fail "the resumed sweep's verdicts differ from the uninterrupted sweep's"
note "PASS: killed in round 2, resumed; verdicts identical to the uninterrupted sweep:"
cat "$WORK/b.verdicts"
