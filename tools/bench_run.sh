#!/usr/bin/env bash
# How long an experiment script takes from source to running program, side by side in one
# run (the machine is shared and noisy: each is timed REPEAT times, in turn, and the median
# is reported):
#   tapegrad run   tools/examples/reference_fit.cpp (the reference model and fit): a first
#                  build with an empty cache (compile with the precompiled header, link
#                  against libtapegrad.so) and a start (--epochs 1)
#   cached rerun   the same command again: no compiler call
#   plain g++ -O2  the same file compiled and linked as a user would without tapegrad run
#                  (no precompiled header)
#   libtorch       a minimal libtorch program (#include <torch/torch.h>, one tensor op),
#                  compiled and linked by g++ -O2 (needs libtorch-dev: install-deps.sh --torch)
# The goal (issue 10): tapegrad run's first build at most 1/10 of the libtorch compile.
#   tools/bench_run.sh [BUILD_DIR (default build)]     REPEAT (default 3) in the environment
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

# Seconds (3 decimals) that the command takes.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >"$work/last.log" 2>&1 || {
    cat "$work/last.log" >&2
    echo "bench_run: failed: $*" >&2
    exit 1
  }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

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
  line="round $r: tapegrad run ${first[-1]} s, cached ${cached[-1]} s, g++ -O2 ${gxx[-1]} s"
  ((have_torch)) && line+=", libtorch ${torch[-1]} s"
  echo "$line"
done

echo
printf '%-34s %8s\n' "median of $repeat" "seconds"
printf '%-34s %8s\n' "tapegrad run (first build + run)" "$(median "${first[@]}")"
printf '%-34s %8s\n' "tapegrad run (cached rerun)" "$(median "${cached[@]}")"
printf '%-34s %8s\n' "g++ -O2 without the PCH" "$(median "${gxx[@]}")"
if ((have_torch)); then
  printf '%-34s %8s\n' "libtorch minimal program" "$(median "${torch[@]}")"
  awk -v a="$(median "${first[@]}")" -v b="$(median "${torch[@]}")" \
    'BEGIN { printf "tapegrad run / libtorch: %.3f (goal <= 0.1)\n", a / b }'
else
  echo "no libtorch headers in $torch_include (tools/install-deps.sh --torch): no ratio"
fi
