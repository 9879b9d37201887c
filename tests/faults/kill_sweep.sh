#!/usr/bin/env bash
# Scenario 1: kill -9 (the whole process group: the sweep and its `fcnlab train` children) at
# seeded random moments during a toy sweep of 6 runs, restarting the same command after each kill.
# Checks after every restart and at the end:
#   - a run file, once it appears, keeps the same bytes (sha256 recorded when first seen);
#   - no run that had a checkpoint before a launch starts from scratch during that launch
#     (train.log: "starting from scratch" vs "resuming from checkpoint" lines; the trainer logs one
#     of the two after taking the run lock, flushed at once);
#   - a run whose file existed before a launch is not started again (no new "run <id> ->" line);
#   - at the end: the sweep exits 0, all 6 files open with status finished, no .part left.
# smoke: 3 kills over 6 runs; full (FCNLAB_FAULTS=full): 12 kills over 8 longer runs. When the
# sweep completes before the kills are done (a fast machine), it is extended by two more seeds. Seed: $FAULT_SEED (default 1).
source "$(dirname "$0")/lib.sh"
RANDOM=${FAULT_SEED:-1}
if [ "$MODE" = full ]; then KILLS=12; NSEEDS=4; ITERS=60; else KILLS=3; NSEEDS=3; ITERS=24; fi
make_toy 16 4
RES=$WORK/res
EXP=$RES/kills
set_args() {
  SEEDS=$(seq -s, 0 $((NSEEDS - 1)))
  # shellcheck disable=SC2046
  ARGS=(sweep $(toy_args) --name kills model.skip=32,8 run.seed=$SEEDS optim.iterations=$ITERS
        checkpoint.every=3 run.results_dir=$RES --jobs 2)
}
set_args
declare -A HASH SCRATCH STARTS HAD_CKPT HAD_FILE

count() { local n; n=$(grep -c -- "$1" "$2" 2>/dev/null) || true; echo "${n:-0}"; }
snapshot() {
  local d id
  for d in "$EXP"/.work/*/; do
    [ -d "$d" ] || continue
    id=$(basename "$d")
    SCRATCH[$id]=$(count "starting from scratch" "$d/train.log")
    STARTS[$id]=$(count "run $id -> " "$d/train.log")
    HAD_CKPT[$id]=0; compgen -G "$d/ckpt-*.pt" >/dev/null && HAD_CKPT[$id]=1
    HAD_FILE[$id]=0; [ -e "$EXP/$id.h5" ] && HAD_FILE[$id]=1
  done
  return 0
}
check() {
  local f h id d
  for f in "$EXP"/*.h5; do
    [ -e "$f" ] || continue
    h=$(sha256sum "$f" | cut -d' ' -f1)
    if [ -n "${HASH[$f]:-}" ]; then
      [ "${HASH[$f]}" = "$h" ] || fail "$f changed after it was written"
    else
      HASH[$f]=$h
      [ "$(run_status "$f")" = finished ] || fail "$f does not open with status finished"
    fi
  done
  for d in "$EXP"/.work/*/; do
    [ -d "$d" ] || continue
    id=$(basename "$d")
    if [ "${HAD_CKPT[$id]:-0}" = 1 ] && [ "$(count "starting from scratch" "$d/train.log")" -gt "${SCRATCH[$id]}" ]; then
      fail "$id had a checkpoint but was started from scratch again"
    fi
    if [ "${HAD_FILE[$id]:-0}" = 1 ] && [ "$(count "run $id -> " "$d/train.log")" -gt "${STARTS[$id]}" ]; then
      fail "$id had a result file but was started again"
    fi
  done
}

landed=0 launches=0
while [ $landed -lt $KILLS ]; do
  snapshot
  launches=$((launches + 1))
  [ $launches -le $((KILLS * 3)) ] || fail "only $landed of $KILLS kills landed in $launches launches"
  start_group "$FCNLAB" "${ARGS[@]}" >>"$WORK/sweep.log" 2>&1
  delay_ms=$((1500 + RANDOM % 4500))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -0 "$BG_PID" 2>/dev/null; then
    kill_group "$BG_PID"
    landed=$((landed + 1))
    note "kill $landed/$KILLS after ${delay_ms} ms: $(ls "$EXP"/*.h5 2>/dev/null | wc -l) runs done, $(ls "$EXP"/.work/*/ckpt-*.pt 2>/dev/null | wc -l) checkpoints"
  else
    wait "$BG_PID" || fail "the sweep failed without a kill (see $WORK/sweep.log)"
    check
    # Faster than the kills: the same sweep with two more seeds (its finished runs must stay untouched).
    NSEEDS=$((NSEEDS + 2))
    set_args
    note "the sweep completed before kill $((landed + 1)) (${delay_ms} ms): extended to seeds $SEEDS"
  fi
  check
done
snapshot
timeout 600 "$FCNLAB" "${ARGS[@]}" >>"$WORK/sweep.log" 2>&1 || { tail -30 "$WORK/sweep.log" >&2; fail "the final sweep did not complete"; }
check
n=$(ls "$EXP"/*.h5 | wc -l)
want=$((NSEEDS * 2))
[ "$n" = "$want" ] || fail "$n run files, expected $want"
for f in "$EXP"/*.h5; do [ "$(run_status "$f")" = finished ] || fail "$f: not finished"; done
if compgen -G "$EXP/*.part" >/dev/null; then fail "a .part file was left: $(ls "$EXP"/*.part)"; fi
resumed=$(cat "$EXP"/.work/*/train.log | grep -c "resuming from checkpoint" || true)
[ $landed -ge $KILLS ] || fail "only $landed kills landed"
# The full version must also have hit runs after a checkpoint (else it proves little about resume).
[ "$MODE" != full ] || [ "$resumed" -gt 0 ] || fail "no kill landed after a checkpoint: no run resumed"
note "PASS: $landed kills survived over $launches launches; $n runs finished, $resumed resumes; files unchanged after first appearance"
