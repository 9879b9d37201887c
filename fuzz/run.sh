#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz and runs each for SECONDS
# (default 60) on a scratch copy of its committed seed corpus (fuzz/corpus/<target>; new inputs go
# to build-fuzz/corpus/<target>, never into the repository). Fails on any crash, sanitizer report,
# leak or timeout, leaving the reproducer in build-fuzz/artifacts/. Prints the executions per target.
#   fuzz/run.sh [SECONDS] [TARGET...]     targets: config png jpeg runfile (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(config png jpeg runfile)
if ! command -v clang++ >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y --no-install-recommends clang >/dev/null  # Debian 12: clang-14 with libFuzzer
  else
    echo "fuzz/run.sh: needs clang++ (Debian: apt-get install clang)" >&2
    exit 2
  fi
fi
CC=clang CXX=clang++ cmake -S fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null
mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total=0
for t in "${TARGETS[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  rm -f "build-fuzz/artifacts/$t-"*
  log=build-fuzz/fuzz_$t.log
  rc=0
  extra=(-max_len=65536)
  # The run-file reader: Debian 12's HDF5 1.10.8 itself (not instrumented) loops forever or reads
  # out of bounds on some corrupted files, within seconds of fuzzing (seen: H5HG_read of a damaged
  # global heap under H5Aread: a hang, and an ASan memcpy-param-overlap). fcnlab cannot fix those, so
  # this target runs in fork mode, going on after such an input, and fuzz/triage.py then fails the
  # run on every report whose first frame is not inside libhdf5 (any fcnlab frame first, every
  # uncaught exception, every leak).
  [ "$t" != runfile ] || extra=(-max_len=131072 -fork=1 -ignore_timeouts=1 -ignore_crashes=1 -ignore_ooms=1)
  "build-fuzz/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2560 "${extra[@]}" -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$t-" "build-fuzz/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' "$log" | tail -1)  # fork mode
  if [ "$t" = runfile ]; then  # fork mode exits non-zero after any ignored report: triage decides
    rc=0
    : >"$log.repro"  # each report's input again, alone, for its full stack trace
    # A generous RSS limit here: ASan writes the shadow of a huge malloc (1/8 of its size) before
    # libFuzzer's malloc hook sees the call, so with the fuzzing run's 2560 MB the RSS watchdog
    # could win the race and report an anonymous "used: 2786Mb" from main() instead of the
    # allocating stack (seen for a 24.9 GB malloc inside libhdf5's H5T__conv_vlen).
    (for a in build-fuzz/artifacts/runfile-*; do
      [ -e "$a" ] || continue
      timeout 60 "build-fuzz/fuzz_$t" -timeout=10 -rss_limit_mb=16000 -malloc_limit_mb=2560 "$a" >>"$log.repro" 2>&1 || true
    done) 2>/dev/null
    python3 fuzz/triage.py "$log.repro" || rc=1
  fi
  if [ $rc != 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz_$t: FAILED (exit $rc) after ${execs:-?} executions; reproducer in build-fuzz/artifacts/" >&2
    exit 1
  fi
  echo "fuzz_$t: ${execs:-0} executions in ${SECS} s, no crash, leak or sanitizer report in fcnlab code"
  total=$((total + ${execs:-0}))
done
echo "fuzz: $total executions in all"
