#!/usr/bin/env bash
# fcnlab sweep --launcher slurm against a real single-node SLURM (Debian 12, as root).
#
# Installs slurmctld/slurmd/slurm-client/munge if missing, writes a private slurm.conf for this host
# into a temp dir (its own ports, state and logs: nothing in /etc/slurm is touched), starts munged
# (unless one already answers), slurmctld and slurmd in the background, and runs:
#   1. a 4-run toy sweep submitted as one job array: 4 result files with status finished, and
#      `fcnlab sweep --status` agrees (4 done, SLURM state COMPLETED), and so does `--watch`;
#   2. a 2-run sweep: task 0 gets `scancel --batch --signal=TERM` mid-run (checkpoint, stop),
#      `--watch` shows both running; task 1 gets USR1 (what --signal=B:USR1@S sends before the time
#      limit: checkpoint, requeue);
#      resubmitting the sweep submits run 0 only, and both runs end finished with "resuming from
#      checkpoint" in their logs;
#   3. an adaptive sweep ([decide], two arms that differ by 1% in the learning rate, 2 then 3
#      seeds): round 1 is one array of the 4 runs with seeds 0 and 1; after it ends, `--status`
#      shows round 2, and the same submit command submits round 2 (seed 2 of both arms) as a second
#      array; after that the sweep is finished and a third submit has nothing to do.
# The daemons it started are stopped by pid on exit. Every wait is bounded; on failure it prints the
# daemons' log tails and exits 1. Usage: tests/slurm/run.sh [path/to/fcnlab]  (KEEP=1 keeps the temp dir)
set -euo pipefail
T0=$(date +%s)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FCNLAB=$(realpath "${1:-$ROOT/build/src/cli/fcnlab}")
[ -x "$FCNLAB" ] || { echo "tests/slurm: no fcnlab binary at $FCNLAB (build first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "tests/slurm: must run as root (starts slurmd/slurmctld)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/fcnlab-slurm.XXXXXX)
chmod 755 "$TMP"
PIDS=()
NAMES=()

log() { echo "[slurm-test +$(( $(date +%s) - T0 ))s] $*"; }

tails() {
  for f in "$TMP"/log/*.log "$TMP"/results/*/slurm/*.log; do
    [ -f "$f" ] || continue
    echo "---- tail $f"
    tail -n 25 "$f"
  done
}

fail() {
  echo "tests/slurm: FAIL: $*" >&2
  tails >&2
  exit 1
}

cleanup() {
  local rc=$?
  local i
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  done
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
    for _ in $(seq 50); do kill -0 "${PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "${PIDS[$i]}" 2>/dev/null; then
      echo "tests/slurm: ${NAMES[$i]} (pid ${PIDS[$i]}) ignored TERM; KILL" >&2
      kill -KILL "${PIDS[$i]}" 2>/dev/null || true
    fi
  done
  if [ "${KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then echo "tests/slurm: files kept in $TMP" >&2; else rm -rf "$TMP"; fi
  echo "tests/slurm: wall time $(( $(date +%s) - T0 )) s (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.5 s until it succeeds, or fails the test.
wait_for() {
  local secs=$1 what=$2
  shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.5
  done
}

start_daemon() {  # start_daemon NAME COMMAND...: in its own session, logs in $TMP/log/NAME.log
  local name=$1
  shift
  setsid "$@" >"$TMP/log/$name.log" 2>&1 < /dev/null &
  PIDS+=("$!")
  NAMES+=("$name")
  log "started $name (pid $!)"
}

# ---- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
   ! [ -x /usr/sbin/munged ]; then
  log "installing slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
mkdir -p "$TMP/log" "$TMP/state" "$TMP/spool" "$TMP/results"

# ---- munge
if ! (munge -n | unmunge) >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then
    install -d -o munge -g munge -m 0700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  # as root munged refuses ("Logfile is insecure"): run it as munge, in the foreground to keep its pid
  start_daemon munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F
  wait_for 20 "munged to answer" bash -c 'munge -n | unmunge'
else
  log "using the munged already running"
fi

# ---- slurm.conf (private: SLURM_CONF points every daemon and client at it)
H=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(free -m | awk '/^Mem:/{print $2}') * 9 / 10 ))
PORT=$(( 20000 + $$ % 20000 ))
export SLURM_CONF=$TMP/slurm.conf
cat > "$SLURM_CONF" <<EOF
ClusterName=fcnlabci
SlurmctldHost=$H
SlurmctldPort=$PORT
SlurmdPort=$(( PORT + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=5
CredType=cred/munge
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
KillWait=30
MpiDefault=none
MailProg=/bin/true
NodeName=$H CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF
start_daemon slurmctld slurmctld -D -f "$SLURM_CONF"
wait_for 30 "slurmctld (scontrol ping UP)" bash -c 'scontrol ping | grep -q UP'
start_daemon slurmd slurmd -D -f "$SLURM_CONF"
wait_for 60 "the node to be idle (sinfo)" bash -c "sinfo -h -N -o %T | grep -qx idle"
log "SLURM up: node $H, $CPUS CPUs, ports $PORT/$(( PORT + 1 ))"

# ---- toy data and sweep files
"$FCNLAB" make-toy --out "$TMP/toy" --train 32 --val 8 >/dev/null
cat > "$TMP/four.toml" <<EOF
base = "$ROOT/configs/toy.toml"
[set]
optim.iterations = 40
eval.every = 0
checkpoint.every = 20
run.threads = 1
data.workers = 1
data.root = "$TMP/toy"
run.results_dir = "$TMP/results"
[[grid]]
model.skip = [32, 8]
model.fusion = ["sum", "concat"]
EOF
sed -e 's/^optim.iterations = 40/optim.iterations = 160/' -e 's/^checkpoint.every = 20/checkpoint.every = 5/' \
  -e '/^\[\[grid\]\]/,$d' "$TMP/four.toml" > "$TMP/resume.toml"
printf 'seeds = [0, 1]\n' | cat - "$TMP/resume.toml" > "$TMP/resume.tmp" && mv "$TMP/resume.tmp" "$TMP/resume.toml"

cd "$TMP"
job_of() {  # the job id printed by `fcnlab sweep --launcher slurm`
  sed -n 's/^submitted job \([0-9][0-9]*\) .*/\1/p' "$1"
}
array_done() {  # array_done JOB: no task of it queued or running
  [ -z "$(squeue -h -r -j "$1" -t PENDING,RUNNING,CONFIGURING,COMPLETING,REQUEUED,SUSPENDED -o %i 2>/dev/null)" ]
}
task_gone() {  # task_gone JOB_TASK: the task has ended (not queued, running or requeued)
  local s
  s=$(squeue -h -r -t all -j "${1%_*}" -o '%i %T' 2>/dev/null | awk -v t="$1" '$1 == t {print $2}')
  case "$s" in PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|REQUEUE_HOLD|SUSPENDED|SIGNALING) return 1 ;; esac
  return 0
}
status_of() { "$FCNLAB" show "$1" 2>/dev/null | awk '$1 == "status" || $1 == "status:" {print $2; exit}'; }

# ---- scenario 1: 4 runs as one array
S1=$(date +%s)
"$FCNLAB" sweep four.toml --launcher slurm --time 00:20:00 --signal-seconds 60 > submit1.out 2>&1 ||
  { cat submit1.out; fail "submitting the 4-run sweep"; }
cat submit1.out
J1=$(job_of submit1.out)
[ -n "$J1" ] || fail "no job id in: $(cat submit1.out)"
grep -q -- "--array=0-3" results/four/slurm/sweep-*.sbatch || fail "the script's array is not 0-3"
wait_for 600 "job array $J1 to end" array_done "$J1"
n=0
for f in results/four/*.h5; do
  [ -f "$f" ] || continue
  st=$(status_of "$f")
  [ "$st" = finished ] || fail "$f: status '$st', expected finished"
  n=$(( n + 1 ))
done
[ "$n" = 4 ] || fail "expected 4 result files in results/four, found $n"
"$FCNLAB" sweep four.toml --status > status1.out || fail "--status failed"
cat status1.out
grep -q "4 done, 0 partial, 0 todo" status1.out || fail "--status does not report 4 done"
[ "$(grep -c "${J1}_[0-3] *COMPLETED" status1.out)" = 4 ] || fail "--status does not show 4 COMPLETED tasks of $J1"
"$FCNLAB" sweep four.toml --launcher slurm > submit1b.out 2>&1 || fail "resubmitting a finished sweep"
grep -q "nothing to submit" submit1b.out || fail "a finished sweep was submitted again: $(cat submit1b.out)"
timeout 60 "$FCNLAB" sweep four.toml --watch 1 > watch1.out 2>&1 || fail "--watch of a finished sweep did not end"
cat watch1.out
grep -q "^4 runs: 4 finished" watch1.out || fail "--watch does not show the 4 runs finished"
log "scenario 1 passed in $(( $(date +%s) - S1 )) s"

# ---- scenario 2: TERM mid-run + resubmit; USR1 (time limit) + self-requeue
S2=$(date +%s)
"$FCNLAB" sweep resume.toml --launcher slurm --time 00:20:00 > submit2.out 2>&1 ||
  { cat submit2.out; fail "submitting the resume sweep"; }
cat submit2.out
J2=$(job_of submit2.out)
[ -n "$J2" ] || fail "no job id in: $(cat submit2.out)"
wait_for 300 "both runs to write a checkpoint" bash -c "[ \$(find results/resume/.work -name 'ckpt-*.pt' | sed 's#/[^/]*\$##' | sort -u | wc -l) = 2 ]"
# The live view of SLURM-run tasks, from this shell: both running.
timeout 3 "$FCNLAB" sweep resume.toml --watch 1 > watch2.out 2>&1 || true
cat watch2.out
[ "$(grep -cE '^ +[01]  running +[0-9]+/160 ' watch2.out)" -ge 2 ] || fail "--watch does not show the 2 SLURM runs running"
log "both runs have a checkpoint: TERM to ${J2}_0, USR1 to ${J2}_1"
scancel --batch --signal=TERM "${J2}_0" || fail "scancel --batch --signal=TERM ${J2}_0"
scancel --batch --signal=USR1 "${J2}_1" || fail "scancel --batch --signal=USR1 ${J2}_1"
wait_for 120 "task ${J2}_0 to stop" task_gone "${J2}_0"
R0=$("$FCNLAB" sweep resume.toml --dry-run | awk '$1 == "0" {print $3}')
[ -n "$R0" ] || fail "cannot find run 0 of resume.toml"
[ ! -f "results/resume/$R0.h5" ] || fail "run 0 finished before TERM arrived: make it longer"
ls results/resume/.work/"$R0"/ckpt-*.pt >/dev/null 2>&1 || fail "run 0 stopped without a checkpoint"
"$FCNLAB" sweep resume.toml --status > status2.out || true
cat status2.out
grep -q "^ *0  partial" status2.out || fail "--status does not show run 0 as partial"
"$FCNLAB" sweep resume.toml --launcher slurm --time 00:20:00 > submit3.out 2>&1 ||
  { cat submit3.out; fail "resubmitting the resume sweep"; }
cat submit3.out
J3=$(job_of submit3.out)
grep -q -- "--array=0$" "$(ls -t results/resume/slurm/sweep-*.sbatch | head -1)" ||
  fail "the resubmission's array is not just run 0 (run 1 is requeued by SLURM itself)"
wait_for 600 "job array $J3 to end" array_done "$J3"
wait_for 600 "job array $J2 (the requeued task) to end" array_done "$J2"
for i in 0 1; do
  R=$("$FCNLAB" sweep resume.toml --dry-run | awk -v i="$i" '$1 == i {print $3}')
  [ "$(status_of "results/resume/$R.h5")" = finished ] || fail "run $i ($R) did not finish"
  grep -q "resuming from checkpoint" "results/resume/.work/$R/stdout.log" ||
    fail "run $i did not resume from its checkpoint (results/resume/.work/$R/stdout.log)"
  grep "resuming from checkpoint" "results/resume/.work/$R/stdout.log" | tail -1
done
grep -q "requeueing ${J2}_1" "results/resume/slurm/${J2}_1.log" || fail "task ${J2}_1 did not requeue itself on USR1"
"$FCNLAB" sweep resume.toml --status > status3.out || fail "--status failed"
cat status3.out
grep -q "2 done, 0 partial, 0 todo" status3.out || fail "--status does not report 2 done"
log "scenario 2 passed in $(( $(date +%s) - S2 )) s"

# ---- scenario 3: adaptive seeds, one array per round
S3=$(date +%s)
sed -e '/^\[\[grid\]\]/,$d' four.toml > decide.toml
cat >> decide.toml <<EOF
[[grid]]
optim.lr = [0.05, 0.0505]
[decide]
vs = ["optim.lr=0.05"]
metrics = ["mean_iou"]
min_seeds = 2
max_seeds = 3
seed_step = 1
resamples = 200
EOF
# The design: arm 0.05 is runs 0-2 (seeds 0-2), arm 0.0505 runs 3-5.
"$FCNLAB" sweep decide.toml --launcher slurm --time 00:20:00 > submit4.out 2>&1 ||
  { cat submit4.out; fail "submitting round 1 of the adaptive sweep"; }
cat submit4.out
grep -q "^round 1 of 2" submit4.out || fail "the first submission is not round 1"
J4=$(job_of submit4.out)
[ -n "$J4" ] || fail "no job id in: $(cat submit4.out)"
grep -q -- "--array=0-1,3-4$" "$(ls -t results/decide/slurm/sweep-*.sbatch | head -1)" ||
  fail "round 1's array is not runs 0-1,3-4"
wait_for 600 "job array $J4 (round 1) to end" array_done "$J4"
"$FCNLAB" sweep decide.toml --status > status4.out || fail "--status failed"
cat status4.out
grep -q "^round 2 of 2" status4.out || fail "--status after round 1 does not show round 2"
[ "$(grep -c "${J4}_[0-9] *COMPLETED" status4.out)" = 4 ] || fail "--status does not show round 1's 4 COMPLETED tasks"
"$FCNLAB" sweep decide.toml --launcher slurm --time 00:20:00 > submit5.out 2>&1 ||
  { cat submit5.out; fail "submitting round 2 of the adaptive sweep"; }
cat submit5.out
J5=$(job_of submit5.out)
[ -n "$J5" ] || fail "the same command after round 1 submitted nothing: $(cat submit5.out)"
grep -q -- "--array=2,5$" "$(ls -t results/decide/slurm/sweep-*.sbatch | head -1)" || fail "round 2's array is not runs 2,5"
wait_for 600 "job array $J5 (round 2) to end" array_done "$J5"
"$FCNLAB" sweep decide.toml --launcher slurm > submit6.out 2>&1 || fail "submitting a finished adaptive sweep"
cat submit6.out
{ grep -q "^finished" submit6.out && grep -q "nothing to submit" submit6.out; } ||
  fail "a finished adaptive sweep was not reported finished with nothing to submit"
[ "$(ls results/decide/*.h5 | wc -l)" = 6 ] || fail "expected 6 result files in results/decide"
log "scenario 3 passed in $(( $(date +%s) - S3 )) s"
log "all SLURM scenarios passed"
