#!/usr/bin/env bash
# Scenario 5: divergence inside a sweep. A huge learning rate makes one run's loss non-finite:
# that run ends with status diverged (a result file without /final, no checkpoints left), the
# other runs finish, and the sweep exits 0 (diverged is an outcome, not a failure).
source "$(dirname "$0")/lib.sh"
make_toy 16 4
# shellcheck disable=SC2046
ARGS=(sweep $(toy_args) --name div optim.lr=0.05,1e30 optim.warmup=0 optim.iterations=8 run.results_dir=$WORK/res)
out=$(timeout 600 "$FCNLAB" "${ARGS[@]}" 2>&1) || fail "the sweep exited non-zero:
$out"
grep -q "1 diverged, 0 failed" <<<"$out" || fail "expected 1 diverged, 0 failed:
$out"
EXP=$WORK/res/div
n_div=0 n_fin=0
for f in "$EXP"/*.h5; do
  case "$(run_status "$f")" in
    diverged) n_div=$((n_div + 1))
              grep -Eq "^status +diverged \(loss became (nan|inf|-inf) .*lr [0-9.]+e\+(29|30)\)" <<<"$("$FCNLAB" show --no-config "$f")" ||
                fail "$f: the diverged run is not the lr 1e30 one";;
    finished) n_fin=$((n_fin + 1));;
    *) fail "$f: unexpected status";;
  esac
done
[ $n_div = 1 ] && [ $n_fin = 1 ] || fail "$n_div diverged, $n_fin finished"
if compgen -G "$EXP/.work/*/ckpt-*.pt" >/dev/null; then fail "checkpoints left behind"; fi
again=$("$FCNLAB" "${ARGS[@]}" 2>&1) || fail "second sweep exited non-zero"
grep -q "0 trained now, 2 already done" <<<"$again" || fail "the diverged run was retrained: $again"
note "PASS: the lr=1e30 run diverged, the other finished; a second sweep retrains neither"
