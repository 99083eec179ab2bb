#!/usr/bin/env bash
# What the main job's files cost: `tapegrad train` on the reference workload (it
# writes loss.csv every epoch and model.safetensors at the end) against `tapegrad bench`, the
# same training without files, for the same epochs; and `train --checkpoint` (an atomic,
# fsynced checkpoint every epoch). Wall time of the whole process, median of RUNS runs, side
# by side in one run; then the file syscalls of one train run of each kind, counted by strace.
#
#   tools/bench/bench_logs.sh [BUILD_DIR] [RUNS] [EPOCHS...]     (defaults: build 5 200 4000)
set -euo pipefail

build=${1:-build}
runs=${2:-5}
shift $(($# > 2 ? 2 : $#))
epoch_counts=("$@")
((${#epoch_counts[@]} > 0)) || epoch_counts=(200 4000)
cli=$build/tools/tapegrad
[[ -x $cli ]] || { echo "bench_logs: no $cli (build first: tools/quickstart.sh build)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-bench-logs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Wall seconds of `"$@"` (output discarded).
seconds_of() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1 </dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}

# The median of the numbers on stdin.
median() {
  sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

common=(--threads 1 --seed 0)
echo "tapegrad train against tapegrad bench (reference workload, --threads 1), median of $runs"
echo "runs, the three kinds interleaved (the machine's load drifts)"
printf '%8s %10s %10s %8s %14s %8s\n' epochs bench_s train_s ratio train+ckpt_s ratio
for epochs in "${epoch_counts[@]}"; do
  bench=() train=() ckpt=()
  for ((i = 0; i < runs; ++i)); do
    bench+=("$(seconds_of "$cli" bench --epochs "$epochs" "${common[@]}")")
    train+=("$(seconds_of "$cli" train --epochs "$epochs" --verbose 0 --out-dir "$work/t" "${common[@]}")")
    ckpt+=("$(seconds_of "$cli" train --epochs "$epochs" --verbose 0 --out-dir "$work/c" \
      --checkpoint "$work/c/ckpt.safetensors" "${common[@]}")")
  done
  b=$(printf '%s\n' "${bench[@]}" | median)
  t=$(printf '%s\n' "${train[@]}" | median)
  c=$(printf '%s\n' "${ckpt[@]}" | median)
  awk -v e="$epochs" -v b="$b" -v t="$t" -v c="$c" \
    'BEGIN { printf "%8s %10s %10s %8.2f %14s %8.2f\n", e, b, t, t / b, c, c / b }'
done

if command -v strace >/dev/null; then
  epochs=${epoch_counts[0]}
  echo
  echo "file syscalls of one run of $epochs epochs (strace -f -c)"
  for kind in train checkpoint; do
    extra=()
    [[ $kind == checkpoint ]] && extra=(--checkpoint "$work/s/ckpt.safetensors")
    strace -f -c -e trace=fsync,fdatasync,rename,renameat,renameat2,linkat,write,openat \
      -o "$work/strace.txt" "$cli" train --epochs "$epochs" --verbose 0 --out-dir "$work/s" \
      "${extra[@]}" "${common[@]}" >/dev/null
    echo "  $kind: $(awk '$NF ~ /^(fsync|fdatasync|rename|renameat|renameat2|linkat|write|openat)$/ {
      printf "%s %s  ", $NF, $4 }' "$work/strace.txt")"
  done
else
  echo "(strace not installed: no syscall counts)"
fi
