#!/usr/bin/env bash
# The live view (`fcnlab sweep ... --watch`) of a running toy sweep, from another process:
#   - while the sweep runs, the view shows its runs as running, with iteration/total and images/s;
#   - after the sweep is killed (kill -9, the whole group), the view shows the killed runs as
#     partial (their locks died with them; their live records still say running);
#   - after the same sweep command completes them, one more view shows every run finished at its
#     last iteration, with its last loss, and ends by itself.
source "$(dirname "$0")/lib.sh"
make_toy 16 4
# shellcheck disable=SC2046
ARGS=(sweep $(toy_args) --name live model.skip=32,8 optim.iterations=100 checkpoint.every=20 run.log_every=5
      run.results_dir="$WORK/res" --jobs 2)
EXP=$WORK/res/live
start_group "$FCNLAB" "${ARGS[@]}" >"$WORK/sweep.log" 2>&1
SWEEP=$BG_PID
start_group "$FCNLAB" "${ARGS[@]}" --watch 0.3 >"$WORK/watch.log" 2>&1
WATCH=$BG_PID
# Until both runs have been seen running past iteration 0.
for _ in $(seq 600); do
  [ "$(grep -cE '^ +[01]  running +[1-9][0-9]*/100 ' "$WORK/watch.log")" -ge 2 ] &&
    grep -qE '^ +0  running' "$WORK/watch.log" && grep -qE '^ +1  running' "$WORK/watch.log" && break
  kill -0 "$SWEEP" 2>/dev/null || fail "the sweep ended before the view saw it run (see $WORK/sweep.log)"
  sleep 0.1
done
grep -qE '^ +[01]  running +[1-9][0-9]*/100 +[0-9.]+ +- +[0-9.]+ +[0-9]' "$WORK/watch.log" ||
  fail "the view never showed a running run with its loss, img/s and ETA: $(tail -8 "$WORK/watch.log")"
grep -q "^2 runs: 2 running | [0-9.]* img/s in all" "$WORK/watch.log" || fail "the totals never counted 2 running runs"
kill_group "$SWEEP"
note "killed the sweep; the view goes on"
for _ in $(seq 100); do
  [ "$(tail -5 "$WORK/watch.log" | grep -cE '^ +[01]  partial ')" = 2 ] && break
  sleep 0.1
done
tail -5 "$WORK/watch.log" | grep -q "2 runs: 2 partial" ||
  fail "after the kill the view does not show both runs partial: $(tail -6 "$WORK/watch.log")"
kill -0 "$WATCH" 2>/dev/null || fail "the view ended while runs were left"
kill_group "$WATCH"
timeout 600 "$FCNLAB" "${ARGS[@]}" >>"$WORK/sweep.log" 2>&1 || fail "the resumed sweep failed"
timeout 60 "$FCNLAB" "${ARGS[@]}" --watch 0.3 >"$WORK/watch2.log" 2>&1 || fail "the view of a finished sweep did not end by itself"
[ "$(grep -cE '^ +[01]  finished +100/100 +[0-9.]+ ' "$WORK/watch2.log")" = 2 ] ||
  fail "the view does not show both runs finished with their last loss: $(cat "$WORK/watch2.log")"
grep -q "^2 runs: 2 finished" "$WORK/watch2.log" || fail "the totals of the finished sweep are wrong"
note "PASS: running, partial after kill -9, finished; last view:"
cat "$WORK/watch2.log"
