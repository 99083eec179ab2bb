#!/usr/bin/env bash
# Runs bench_autograd and bench_autograd_torch from a build dir (builds nothing), side by
# side, at one thread, and prints tapegrad/libtorch time per op. The issue's goal is a ratio
# of at most 0.2 (a fifth of libtorch's time per op) and 0 allocations per op after warm-up.
#
# usage: tools/bench/bench_autograd.sh BUILD_DIR [RUNS] [-- extra args for both binaries]
#   RUNS (default 3) runs of each binary, alternating; the figures are medians over runs
#   (each run already reports the median of its own repetitions).
set -euo pipefail

build=${1:?usage: bench_autograd.sh BUILD_DIR [RUNS] [-- args]}
shift
runs=3
if [[ $# -gt 0 && $1 != -- ]]; then
  runs=$1
  shift
fi
[[ ${1:-} == -- ]] && shift
extra=("$@")

tg_bin=$build/tools/bench_autograd
torch_bin=$build/tools/bench_autograd_torch
[[ -x $tg_bin ]] || { echo "no $tg_bin: build target bench_autograd first" >&2; exit 1; }

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

tg_json=()
torch_json=()
for ((r = 1; r <= runs; ++r)); do
  echo "== run $r/$runs"
  out=$("$tg_bin" "${extra[@]}")
  echo "$out" | grep -v '^{'
  tg_json+=("$(echo "$out" | grep '^{"bench"')")
  if [[ -x $torch_bin ]]; then
    out=$("$torch_bin" "${extra[@]}")
    echo "$out" | grep -v '^{'
    torch_json+=("$(echo "$out" | grep '^{"bench"')")
  fi
done

if [[ ! -x $torch_bin ]]; then
  echo "no $torch_bin (libtorch not found at configure time): no ratio" >&2
  exit 0
fi

printf '%s\n' "${tg_json[@]}" >/tmp/bench_autograd.$$.tg
printf '%s\n' "${torch_json[@]}" >/tmp/bench_autograd.$$.torch
trap 'rm -f /tmp/bench_autograd.$$.tg /tmp/bench_autograd.$$.torch' EXIT
python3 - /tmp/bench_autograd.$$.tg /tmp/bench_autograd.$$.torch <<'EOF'
import json, statistics, sys
tg = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
th = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
med = lambda rows, key: statistics.median(r[key] for r in rows)
print(f"\nmedian over {len(tg)} runs, ns per op (K={tg[0]['k']})")
print(f"{'loop':<10} {'tapegrad':>10} {'libtorch':>10} {'ratio':>8}  (goal <= 0.20)")
ratios = {}
for key, name in (("fwd_bwd_ns", "fwd+bwd"), ("fwd_ns", "fwd"), ("no_grad_ns", "no-grad")):
    a, b = med(tg, key), med(th, key)
    ratios[key] = a / b
    print(f"{name:<10} {a:>10.1f} {b:>10.1f} {a / b:>8.3f}")
sys_alloc = statistics.median(r["sys_allocs_per_op"]["fwd_bwd"] for r in tg)
new_tg = statistics.median(r["new_calls_per_op"]["fwd_bwd"] for r in tg)
new_th = statistics.median(r["new_calls_per_op"]["fwd_bwd"] for r in th)
print(f"fwd+bwd allocations per op: tapegrad system {sys_alloc:.3f}, operator new {new_tg:.3f}; "
      f"libtorch operator new {new_th:.3f}")
print(json.dumps({"bench": "autograd_op_ratio", "runs": len(tg),
                  "ratio_fwd_bwd": round(ratios["fwd_bwd_ns"], 4),
                  "ratio_fwd": round(ratios["fwd_ns"], 4),
                  "ratio_no_grad": round(ratios["no_grad_ns"], 4)}))
EOF
