#!/usr/bin/env bash
# Scenario 3: two `fcnlab sweep` processes started at once on the same experiment. Each run is
# trained exactly once (its train.log has one "starting from scratch" and no other start), both
# sweeps exit 0, and together they complete it (the one that finds a run locked waits for its file).
# Part 2: the same with one sweep killed (kill -9, whole group) midway: its runs' locks die with it,
# and the survivor takes them over (resuming their checkpoints) and completes the sweep alone.
# smoke: 4 runs; full: 6 runs.
source "$(dirname "$0")/lib.sh"
if [ "$MODE" = full ]; then SEEDS=0,1,2; else SEEDS=0,1; fi
make_toy 16 4
count() { local n; n=$(grep -c -- "$1" "$2" 2>/dev/null) || true; echo "${n:-0}"; }
want=$(( $(echo "$SEEDS" | tr ',' '\n' | wc -l) * 2 ))

# --- part 1: both run to the end
# shellcheck disable=SC2046
ARGS=(sweep $(toy_args) --name twice model.skip=32,8 run.seed=$SEEDS optim.iterations=10 checkpoint.every=2
      run.results_dir=$WORK/res)
timeout 600 "$FCNLAB" "${ARGS[@]}" >"$WORK/s1.log" 2>&1 & p1=$!
timeout 600 "$FCNLAB" "${ARGS[@]}" >"$WORK/s2.log" 2>&1 & p2=$!
rc1=0; wait $p1 || rc1=$?
rc2=0; wait $p2 || rc2=$?
[ $rc1 = 0 ] && [ $rc2 = 0 ] || { tail -n 20 "$WORK/s1.log" "$WORK/s2.log" >&2; fail "sweeps exited $rc1 and $rc2"; }
EXP=$WORK/res/twice
[ "$(ls "$EXP"/*.h5 | wc -l)" = "$want" ] || fail "expected $want run files"
for d in "$EXP"/.work/*/; do
  id=$(basename "$d")
  [ "$(run_status "$EXP/$id.h5")" = finished ] || fail "$id not finished"
  [ "$(count "run $id -> " "$d/train.log")" = 1 ] || fail "$id was started $(count "run $id -> " "$d/train.log") times"
  [ "$(count "starting from scratch" "$d/train.log")" = 1 ] || fail "$id was trained from scratch more than once"
done
t1=$(sed -n 's/.* \([0-9]*\) trained now.*/\1/p' "$WORK/s1.log")
t2=$(sed -n 's/.* \([0-9]*\) trained now.*/\1/p' "$WORK/s2.log")
[ $((t1 + t2)) = "$want" ] || fail "the two sweeps report $t1 + $t2 runs trained, expected $want in all"
note "part 1 ok: $want runs, trained $t1 + $t2, each once"

# --- part 2: one of the two is killed midway; the other completes the sweep.
# shellcheck disable=SC2046
ARGS=(sweep $(toy_args) --name peer model.skip=32,8 run.seed=$SEEDS optim.iterations=30 checkpoint.every=2
      run.results_dir=$WORK/res)
start_group "$FCNLAB" "${ARGS[@]}" >"$WORK/k.log" 2>&1; victim=$BG_PID
sleep 0.5
timeout 600 "$FCNLAB" "${ARGS[@]}" >"$WORK/s3.log" 2>&1 & p3=$!
EXP=$WORK/res/peer
for _ in $(seq 1 600); do compgen -G "$EXP/.work/*/ckpt-*.pt" >/dev/null && break; sleep 0.05; done
kill_group "$victim"
note "killed one sweep with checkpoints: $(ls "$EXP"/.work/*/ckpt-*.pt 2>/dev/null | wc -l)"
rc3=0; wait $p3 || rc3=$?
[ $rc3 = 0 ] || { tail -n 20 "$WORK/s3.log" >&2; fail "the surviving sweep exited $rc3"; }
[ "$(ls "$EXP"/*.h5 | wc -l)" = "$want" ] || fail "the survivor left the sweep incomplete"
for f in "$EXP"/*.h5; do [ "$(run_status "$f")" = finished ] || fail "$f not finished"; done
grep -q "resuming from checkpoint" "$EXP"/.work/*/train.log || fail "no run of the killed sweep was resumed"
note "PASS: two concurrent sweeps train each run once; a killed peer's runs are taken over"
