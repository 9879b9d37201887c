# Shared helpers of the fault-injection scripts (tests/faults/*.sh). Sourced, not run.
# Environment: FCNLAB (the executable; default build-faults/src/cli/fcnlab), FCNLAB_FAULTS=smoke|full.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FCNLAB=${FCNLAB:-$SRC/build-faults/src/cli/fcnlab}
MODE=${FCNLAB_FAULTS:-smoke}
[ -x "$FCNLAB" ] || { echo "FAIL: no fcnlab executable at $FCNLAB (set FCNLAB)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fcnlab-faults.XXXXXX")
PGIDS=()
cleanup() {
  local g
  for g in "${PGIDS[@]}"; do kill -9 -- "-$g" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL [$(basename "$0")]: $*" >&2
  KEEP_WORK=1  # the evidence stays (logs, run files, work dirs)
  exit 1
}
note() { echo "[$(basename "$0" .sh)] $*"; }

# A small toy VOC-format set in $WORK/toy and the overrides for seconds-long CPU runs.
make_toy() {
  "$FCNLAB" make-toy --out "$WORK/toy" --train "${1:-16}" --val "${2:-4}" >/dev/null
}
toy_args() {
  echo "--config $SRC/configs/toy.toml data.root=$WORK/toy run.threads=1 data.workers=1 optim.batch_size=4" \
       "optim.warmup=2 eval.every=0 eval.examples=2 eval.trimap_widths=[1,2]"
}

# Starts a command in its own session (process group = its pid, so kill -9 -- -PID takes the
# children too); sets BG_PID.
start_group() {
  setsid "$@" &
  BG_PID=$!
  PGIDS+=("$BG_PID")
}
# kill -9 the whole process group and wait until every member is gone.
kill_group() {
  local g=$1 n=0
  kill -9 -- "-$g" 2>/dev/null || true
  wait "$g" 2>/dev/null || true
  while kill -0 -- "-$g" 2>/dev/null; do
    sleep 0.05
    n=$((n + 1))
    [ $n -lt 200 ] || fail "process group $g survived kill -9"
  done
}

# Status attribute of a run file ("finished", ...), via fcnlab show; "" when it does not open.
run_status() {
  "$FCNLAB" show --no-config "$1" 2>/dev/null | sed -n 's/^status *\([a-z]*\).*/\1/p'
}

# expect_fail CODE PATTERN DESCRIPTION -- command...: the command exits CODE and prints PATTERN (ERE).
expect_fail() {
  local code=$1 pattern=$2 what=$3
  shift 4
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" = "$code" ] || fail "$what: exit $rc, expected $code; output:
$out"
  # A here-string, not `echo | grep -q`: bash's echo writes a line at a time to a pipe, so grep -q
  # can exit on an early match before the next line; under pipefail the SIGPIPE fails the test.
  grep -Eq -- "$pattern" <<<"$out" || fail "$what: message does not match /$pattern/; output:
$out"
  note "ok ($rc): $what: $(echo "$out" | grep -E -- "$pattern" | head -1 | cut -c1-160)"
}
