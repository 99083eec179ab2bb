#!/usr/bin/env bash
# Runs tools/bench_rnn (tapegrad) beside the PyTorch references of ../shared/bench/reference
# (libtorch C++ and torch eager Python) on the same workload, in the same run, at one thread
# (OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1, pinned to one core when taskset exists), and
# prints a side-by-side table: median epoch ms, ratios ours/libtorch and ours/torch-py,
# final loss, peak RSS.
#
# usage: tools/bench_rnn.sh BUILD_DIR [--runs N] [--big] [--configs "A B C D"]
#   BUILD_DIR  a tapegrad build dir with tools/bench_rnn built (this script builds nothing
#              of tapegrad)
#   --runs N   runs per (config, impl), interleaved; the table shows the median over runs
#              of each run's median epoch ms (default 3)
#   --big      configs A B C instead of A alone (B and C take minutes per run)
#   --configs  any of A B C D (the configs of ../shared/bench/reference/run_all.sh)
#
# The libtorch reference is built (once) into $REF_BUILD (default /tmp/tapegrad-ref-build),
# outside the repo: shared/ is read-only in CI. It is skipped when libtorch is missing, and
# torch-py when $PYTHON (default /usr/bin/python3) cannot import torch. Raw JSON lines go to
# $OUT (default /tmp/bench_rnn.jsonl).
set -euo pipefail

build=${1:?usage: bench_rnn.sh BUILD_DIR [--runs N] [--big] [--configs \"A B\"]}
shift
runs=3
configs="A"
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --big) configs="A B C"; shift ;;
    --configs) configs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
ref=${REF_DIR:-$repo/../shared/bench/reference}
ref_build=${REF_BUILD:-/tmp/tapegrad-ref-build}
python=${PYTHON:-/usr/bin/python3}
out=${OUT:-/tmp/bench_rnn.jsonl}
tg_bin=$build/tools/bench_rnn
[[ -x $tg_bin ]] || { echo "no $tg_bin: build target bench_rnn first" >&2; exit 1; }
[[ -d $ref ]] || { echo "no reference dir $ref" >&2; exit 1; }

export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

# The references, built outside the repo (never inside shared/).
torch_bin=$ref_build/torch_rnn
if [[ ! -x $torch_bin ]]; then
  echo "building the libtorch reference in $ref_build" >&2
  if cmake -S "$ref" -B "$ref_build" -DCMAKE_BUILD_TYPE=Release >"$ref_build.log" 2>&1 &&
    cmake --build "$ref_build" --target torch_rnn >>"$ref_build.log" 2>&1; then
    :
  else
    echo "libtorch reference did not build (see $ref_build.log): skipped" >&2
  fi
fi
impls=(tapegrad)
[[ -x $torch_bin ]] && impls+=(libtorch)
if "$python" -c 'import torch' 2>/dev/null; then
  impls+=(torch-py)
else
  echo "$python cannot import torch: torch-py skipped" >&2
fi

config_args() {
  case $1 in
    A) echo "--cell rnn --hidden 64,32 --seq 10 --features 1 --samples 100 --batch 32 --epochs 100" ;;
    B) echo "--cell rnn --hidden 256,256 --seq 50 --features 32 --samples 2048 --batch 64 --epochs 3" ;;
    C) echo "--cell lstm --hidden 512 --seq 100 --features 128 --samples 1024 --batch 128 --epochs 2" ;;
    D) echo "--cell gru --hidden 128 --seq 200 --features 16 --samples 512 --batch 32 --epochs 2" ;;
    *) echo "unknown config $1" >&2; exit 2 ;;
  esac
}

: >"$out"
for ((r = 1; r <= runs; ++r)); do
  for cfg in $configs; do
    for impl in "${impls[@]}"; do
      case $impl in
        tapegrad) prog=("$tg_bin") ;;
        libtorch) prog=("$torch_bin") ;;
        torch-py) prog=("$python" "$ref/torch_rnn.py") ;;
      esac
      # shellcheck disable=SC2046  # the config's flags are meant to split
      line=$("${pin[@]}" "${prog[@]}" $(config_args "$cfg") --threads 1 | tail -n 1)
      echo "${line%\}}, \"config\": \"$cfg\"}" | tee -a "$out" | cut -c1-160 >&2
    done
  done
done

"$python" - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:
    by.setdefault((r["config"], r["impl"]), []).append(r)
order = {"tapegrad": 0, "libtorch": 1, "torch-py": 2}
configs = sorted({c for c, _ in by})
print("\none thread (OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1); epoch ms = median over runs "
      "of each run's median epoch")
print(f"{'config':<7}{'impl':<10}{'runs':>5}{'epoch ms':>11}{'min..max':>18}{'ours/x':>8}"
      f"{'final loss':>13}{'peak RSS MB':>13}")
for c in configs:
    med = {i: statistics.median(r["epoch_ms_median"] for r in g)
           for (cc, i), g in by.items() if cc == c}
    for (cc, impl), g in sorted(by.items(), key=lambda kv: order.get(kv[0][1], 9)):
        if cc != c:
            continue
        ms = [r["epoch_ms_median"] for r in g]
        ratio = f"{med['tapegrad'] / med[impl]:.2f}" if "tapegrad" in med and impl != "tapegrad" else "-"
        loss = statistics.median(r["final_loss"] for r in g)
        rss = max(r["peak_rss_mb"] for r in g)
        print(f"{c:<7}{impl:<10}{len(g):>5}{med[impl]:>11.3f}{min(ms):>9.2f}..{max(ms):<7.2f}"
              f"{ratio:>8}{loss:>13.6g}{rss:>13.1f}")
blas = {r["impl"]: r["blas"] for r in rows}
for impl, b in blas.items():
    print(f"blas ({impl}): {b}")
EOF
