#!/usr/bin/env bash
# How long an experiment script takes from source to running program, side by side in one
# run (the machine is shared and noisy: each is timed REPEAT times, in turn, and the median
# wall time and CPU time are reported):
#   tapegrad run   tools/examples/reference_fit.cpp (the reference model and fit): a first
#                  build with an empty cache (compile with the precompiled header, link
#                  against libtapegrad.so) and a start (--epochs 1)
#   cached rerun   the same command again: no compiler call
#   plain g++ -O2  the same file compiled and linked as a user would without tapegrad run
#                  (no precompiled header)
#   libtorch       a minimal libtorch program (#include <torch/torch.h>, one tensor op),
#                  compiled and linked by g++ -O2 (needs libtorch-dev: install-deps.sh --torch)
# The goal: tapegrad run's first build at most 1/10 of the libtorch compile.
#   tools/bench/bench_run.sh [BUILD_DIR (default build)]     REPEAT (default 3) in the environment
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
repeat=${REPEAT:-3}
tapegrad=$build/tools/tapegrad
script=$root/tools/examples/reference_fit.cpp
work=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-bench-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

[[ -x $tapegrad ]] || {
  echo "bench_run: no $tapegrad; build first (tools/quickstart.sh build)" >&2
  exit 1
}
cat >"$work/torch_minimal.cpp" <<'EOF'
#include <torch/torch.h>
#include <iostream>
int main() { std::cout << torch::ones({2, 3}).sum().item<float>() << "\n"; }
EOF
torch_include=/usr/include/torch/csrc/api/include
have_torch=0
[[ -d $torch_include ]] && have_torch=1

# "WALL CPU": the seconds the command takes, and the CPU seconds (user + system) it and its
# children use, which a loaded machine inflates less than the wall time.
seconds() {
  local TIMEFORMAT='%R %U %S' times
  times=$({ time "$@" >"$work/last.log" 2>&1; } 2>&1) || {
    cat "$work/last.log" >&2
    echo "bench_run: failed: $*" >&2
    exit 1
  }
  awk '{ printf "%.3f %.3f", $1, $2 + $3 }' <<<"$times"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# The median wall time and the median CPU time of "WALL CPU" pairs.
medians() {
  printf '%8s %8s' "$(median $(printf '%s\n' "$@" | cut -d' ' -f1))" \
    "$(median $(printf '%s\n' "$@" | cut -d' ' -f2))"
}

# The compile line tapegrad run uses, minus its -I of the precompiled headers.
read -r -a plain_line <<<"$("$tapegrad" run --print-flags "$script")"
plain=()
for ((i = 0; i < ${#plain_line[@]}; i++)); do
  case ${plain_line[i]} in
    -I*/pch/*) ;;
    -include) ((++i)) ;;
    -o) plain+=(-o "$work/plain") && ((++i)) ;;
    *) plain+=("${plain_line[i]}") ;;
  esac
done

first=() cached=() gxx=() torch=()
for ((r = 1; r <= repeat; r++)); do
  rm -rf "$work/cache"
  first+=("$(seconds env TAPEGRAD_CACHE_DIR="$work/cache" "$tapegrad" run "$script" -- --epochs 1)")
  cached+=("$(seconds env TAPEGRAD_CACHE_DIR="$work/cache" "$tapegrad" run "$script" -- --epochs 1)")
  gxx+=("$(seconds "${plain[@]}")")
  if ((have_torch)); then
    torch+=("$(seconds g++ -std=c++17 -O2 -I"$torch_include" "$work/torch_minimal.cpp" \
      -o "$work/torch_minimal" -ltorch -ltorch_cpu -lc10)")
  fi
  line="round $r (wall, CPU s): tapegrad run ${first[-1]}, cached ${cached[-1]}, g++ -O2 ${gxx[-1]}"
  ((have_torch)) && line+=", libtorch ${torch[-1]}"
  echo "$line"
done

echo
printf '%-34s %8s %8s\n' "median of $repeat" "wall s" "CPU s"
printf '%-34s %s\n' "tapegrad run (first build + run)" "$(medians "${first[@]}")"
printf '%-34s %s\n' "tapegrad run (cached rerun)" "$(medians "${cached[@]}")"
printf '%-34s %s\n' "g++ -O2 without the PCH" "$(medians "${gxx[@]}")"
if ((have_torch)); then
  printf '%-34s %s\n' "libtorch minimal program" "$(medians "${torch[@]}")"
  read -r ours_wall ours_cpu <<<"$(medians "${first[@]}")"
  read -r torch_wall torch_cpu <<<"$(medians "${torch[@]}")"
  awk -v a="$ours_wall" -v b="$torch_wall" -v c="$ours_cpu" -v d="$torch_cpu" \
    'BEGIN { printf "tapegrad run / libtorch: %.3f wall, %.3f CPU (goal <= 0.1)\n", a / b, c / d }'
else
  echo "no libtorch headers in $torch_include (tools/install-deps.sh --torch): no ratio"
fi
