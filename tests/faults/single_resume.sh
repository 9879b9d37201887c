#!/usr/bin/env bash
# Scenario 2: kill -9 during a single deterministic CPU run (after a checkpoint exists, at a seeded
# random moment), then the same command again until it ends: the final weights (model-final.pt)
# and everything in the run file that does not measure time (/final, /val, /train/step, loss, lr,
# /examples) equal an uninterrupted run's bit for bit. smoke: 2 kills; full: 5 kills.
source "$(dirname "$0")/lib.sh"
RANDOM=${FAULT_SEED:-2}
if [ "$MODE" = full ]; then KILLS=5; ITERS=40; else KILLS=2; ITERS=20; fi
make_toy 16 4
# shellcheck disable=SC2046
ARGS=(train $(toy_args) optim.iterations=$ITERS checkpoint.every=2 eval.every=6)

"$FCNLAB" "${ARGS[@]}" run.results_dir="$WORK/a" >"$WORK/a.log" 2>&1 || { cat "$WORK/a.log" >&2; fail "uninterrupted run failed"; }
A=$(ls "$WORK"/a/*/*.h5)
id=$(basename "$A" .h5)
exp=$(basename "$(dirname "$A")")
B=$WORK/b/$exp/$id.h5
BW=$WORK/b/$exp/.work/$id

landed=0
for k in $(seq 1 $KILLS); do
  start_group "$FCNLAB" "${ARGS[@]}" run.results_dir="$WORK/b" >>"$WORK/b.log" 2>&1
  before=$(ls "$BW"/ckpt-*.pt 2>/dev/null | tail -1 || true)
  # wait for a checkpoint newer than the one this launch resumed from (bounded: 120 s)
  for _ in $(seq 1 2400); do
    now=$(ls "$BW"/ckpt-*.pt 2>/dev/null | tail -1 || true)
    [ -n "$now" ] && [ "$now" != "$before" ] && break
    kill -0 "$BG_PID" 2>/dev/null || break
    sleep 0.05
  done
  delay_ms=$((RANDOM % 400))
  sleep "0.$(printf '%03d' $delay_ms)"
  if kill -0 "$BG_PID" 2>/dev/null; then
    kill_group "$BG_PID"
    landed=$((landed + 1))
    note "kill $k after checkpoint $(basename "${now:-none}") + ${delay_ms} ms"
  else
    wait "$BG_PID" || true
    note "launch $k ended before its kill"
  fi
  [ ! -e "$B" ] || break
done
[ -e "$B" ] || timeout 600 "$FCNLAB" "${ARGS[@]}" run.results_dir="$WORK/b" >>"$WORK/b.log" 2>&1 || { tail -30 "$WORK/b.log" >&2; fail "resumed run failed"; }
[ $landed -ge 1 ] || fail "no kill landed during the run"
grep -q "resuming from checkpoint" "$BW/train.log" || fail "the run never resumed from a checkpoint"
[ "$(grep -c "starting from scratch" "$BW/train.log")" = 1 ] || fail "the run started from scratch more than once"
cmp "$WORK/a/$exp/.work/$id/model-final.pt" "$BW/model-final.pt" || fail "final weights differ from the uninterrupted run"
# h5dump of a dataset or group without its first line (which names the file)
dump() {
  if h5dump -d "$1" "$2" >/dev/null 2>&1; then h5dump -d "$1" "$2"; else h5dump -g "$1" "$2"; fi | sed 1d
}
for obj in /final /val /train/step /train/loss /train/lr /examples; do
  dump "$obj" "$A" >"$WORK/dump.a" || fail "h5dump $obj $A"
  dump "$obj" "$B" >"$WORK/dump.b" || fail "h5dump $obj $B"
  [ "$(wc -l <"$WORK/dump.a")" -gt 3 ] || fail "h5dump $obj printed nothing"
  cmp -s "$WORK/dump.a" "$WORK/dump.b" || fail "$obj differs between the uninterrupted and the killed+resumed run"
done
note "PASS: $landed kills, $(grep -c "resuming from checkpoint" "$BW/train.log") resumes; weights and metrics bit-identical"
