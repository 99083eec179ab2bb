#!/usr/bin/env bash
# The faults of a job on several ranks, through `mpirun tapegrad train` (and `cv`): each must
# end the whole job, soon and with a line that says what happened, never hang it.
#   1. a rank killed (SIGKILL) in the middle of training: the job ends within 30 s, a line
#      names the lost rank, and the last checkpoint resumes (on 1 rank; what that rank
#      writes then resumes on 3);
#   2. a rank that stops answering (SIGSTOP): --timeout ends the job with a clear message;
#   3. a rank that throws (bad data on that rank alone): every rank ends, exit status 2, with
#      that rank's message;
#   4. mismatched programs (another model on one rank): refused at the start, exit status 2;
#   5. a rank stopped in the middle of `tapegrad cv`: the others end the job soon after
#      --timeout, in the middle of their fits.
# Usage: faults.sh MPIEXEC TAPEGRAD   (ctest: mpi_faults)
set -uo pipefail
mpiexec=$1
tapegrad=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# A token in the ranks' environment tells this test's processes from any other's.
token="faults-$$"
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect_in FILE TEXT: FILE holds TEXT; shows the line that does.
expect_in() {
  if grep -qF -- "$2" "$1"; then
    echo "   said: $(grep -m1 -F -- "$2" "$1")"
  else
    fail "expected '$2' in the output:"$'\n'"$(cat "$1")"
  fi
}

# The pid of rank $1 of this test's running job (empty while it has not started). One grep
# reads every process's environment at once: a scan that forks per process takes seconds on
# a busy machine, longer than a short job runs.
rank_pid() {
  local environ
  for environ in $(grep -lzx "TAPEGRAD_FAULT_TEST=$token" /proc/[0-9]*/environ 2>/dev/null); do
    if grep -qzx "OMPI_COMM_WORLD_RANK=$1" "$environ" 2>/dev/null; then
      basename "$(dirname "$environ")"
      return
    fi
  done
}

# wait_for_file PATH: up to 60 s.
wait_for_file() {
  for _ in $(seq 600); do
    [[ -s $1 ]] && return 0
    sleep 0.1
  done
  fail "$1 never appeared"
  return 1
}

# run_job NAME ARGS...: mpirun in the background, its output in $work/NAME.out, exit status
# in $work/NAME.status.
run_job() {
  local name=$1
  shift
  (
    timeout 120 "$mpiexec" --oversubscribe -x TAPEGRAD_FAULT_TEST="$token" "$@" \
      >"$work/$name.out" 2>&1
    echo $? >"$work/$name.status"
  ) &
  job=$!
}

train=("$tapegrad" train --epochs 1000000 --verbose 0)

# signal_rank_1 NAME SIGNAL ARGS...: trains on 2 ranks with a checkpoint per epoch (and
# ARGS), sends SIGNAL to rank 1 once a checkpoint exists, waits for the job to end; it must
# end within 30 s. Leaves rank 1's pid in $pid.
signal_rank_1() {
  local name=$1 signal=$2
  shift 2
  run_job "$name" -np 2 "${train[@]}" --out-dir "$work/$name" \
    --checkpoint "$work/$name/run.ckpt" "$@"
  wait_for_file "$work/$name/run.ckpt"
  signal_running_rank_1 "$name" "$signal"
}

# signal_running_rank_1 NAME SIGNAL [LIMIT]: half a second on, sends SIGNAL to rank 1 of the
# running job NAME and waits for it to end; it must end within LIMIT s (30). Leaves rank 1's
# pid in $pid.
signal_running_rank_1() {
  local name=$1 signal=$2 limit=${3:-30}
  sleep 0.5
  pid=$(rank_pid 1)
  [[ -n $pid ]] || fail "rank 1 not found"
  local start=$SECONDS
  kill "-$signal" "$pid"
  wait "$job"
  local took=$((SECONDS - start))
  echo "   the job ended $took s after SIG$signal, exit status $(cat "$work/$name.status")"
  ((took <= limit)) || fail "the job took $took s to end after SIG$signal to a rank (limit $limit s)"
}

echo "1. SIGKILL of rank 1 in the middle of training"
signal_rank_1 kill KILL
[[ $(cat "$work/kill.status") != 0 ]] || fail "the job ended with status 0"
expect_in "$work/kill.out" "rank 1"
expect_in "$work/kill.out" "signal 9"
epochs=$(("$(grep -c . "$work/kill/loss.csv")" + 2))
"$tapegrad" train --epochs "$epochs" --verbose 1 --out-dir "$work/kill" \
  --resume "$work/kill/run.ckpt" >"$work/resume.out" 2>&1 || fail "resume failed"
expect_in "$work/resume.out" "Resumed from"
expect_in "$work/resume.out" "written by 2 rank(s)"
# and what one rank wrote resumes on three
"$tapegrad" train --epochs "$epochs" --verbose 0 --out-dir "$work/kill" \
  --checkpoint "$work/kill/run.ckpt" >/dev/null 2>&1 || fail "the one-rank run failed"
timeout 120 "$mpiexec" --oversubscribe -np 3 "$tapegrad" train --epochs $((epochs + 2)) \
  --verbose 1 --out-dir "$work/kill" --resume "$work/kill/run.ckpt" >"$work/resume3.out" 2>&1 ||
  fail "resuming on 3 ranks failed"
expect_in "$work/resume3.out" "written by 1 rank(s)"
[[ $(grep -c "^Resumed from" "$work/resume3.out") == 1 ]] || fail "3 ranks printed more than once"

echo "2. SIGSTOP of rank 1: --timeout 3"
signal_rank_1 stop STOP --timeout 3
[[ $(cat "$work/stop.status") == 2 ]] || fail "exit status $(cat "$work/stop.status"), expected 2"
expect_in "$work/stop.out" "not every rank answered"
kill -KILL "$pid" 2>/dev/null

echo "3. bad data on rank 1 alone"
printf 'value\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n' >"$work/good.csv"
sed 's/^7$/seven/' "$work/good.csv" >"$work/bad.csv"
run_job throw -np 1 "${train[@]}" --data "$work/good.csv" --window 3 --out-dir "$work/throw" \
  : -np 1 "${train[@]}" --data "$work/bad.csv" --window 3 --out-dir "$work/throw"
wait "$job"
[[ $(cat "$work/throw.status") == 2 ]] || fail "exit status $(cat "$work/throw.status"), expected 2"
expect_in "$work/throw.out" "error on rank 1 of 2"
expect_in "$work/throw.out" "seven"

echo "4. another model on rank 1"
run_job mismatch -np 1 "${train[@]}" --units 8 --out-dir "$work/mismatch" \
  : -np 1 "${train[@]}" --units 16 --out-dir "$work/mismatch"
wait "$job"
[[ $(cat "$work/mismatch.status") == 2 ]] ||
  fail "exit status $(cat "$work/mismatch.status"), expected 2"
expect_in "$work/mismatch.out" "mismatched programs"

echo "5. SIGSTOP of rank 1 in the middle of tapegrad cv: --timeout 3"
run_job cvstop -np 2 "$tapegrad" cv --units 2,3 --folds 2 --epochs 10000 --timeout 3 \
  -o "$work/cv.csv"
wait_for_file "$work/cvstop.out" # rank 0 printed its header: the folds are training
# The fits check the other ranks as they train: the job ends a few seconds after the
# timeout, however long the fits left would take (10000 epochs each).
signal_running_rank_1 cvstop STOP 15
[[ $(cat "$work/cvstop.status") == 2 ]] ||
  fail "exit status $(cat "$work/cvstop.status"), expected 2"
expect_in "$work/cvstop.out" "rank 1 has not been heard from"
kill -KILL "$pid" 2>/dev/null

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "every fault ended the job, with a message"
