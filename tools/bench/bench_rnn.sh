#!/usr/bin/env bash
# Runs `tapegrad bench` beside the PyTorch references of tools/bench/reference (libtorch
# C++ and torch eager Python) on the same workloads, in the same run, in two thread modes,
# and prints a side-by-side table: median epoch ms per (config, mode, impl), the ratio
# "best peer / tapegrad", peak RSS and its ratio tapegrad / libtorch. Beside them, where the
# build has it (not in sanitizer builds), the hand-written limit of a SimpleRNN config
# (tools/bench/limit_rnn.cpp) and the ratio "tapegrad / limit": how far from the machine.
#
# usage: tools/bench/bench_rnn.sh BUILD_DIR [--runs N] [--runs2 N] [--modes "t1 t2"] [--big]
#                                     [--configs "A B C D"] [--ftz] [--infer]
#   BUILD_DIR  a tapegrad build dir with tools/tapegrad built (target tapegrad_cli; this
#              script builds nothing of tapegrad)
#   --runs N   runs per (config, impl) in mode t1 (default 3)
#   --runs2 N  runs per (config, impl) in mode t2 (default 5: 2-thread timings jump between
#              two speeds from process to process on the 2-core machine, so judge a median)
#   --modes    t1: one thread, OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 --threads 1, pinned to
#              core 0 when taskset exists; t2: two threads, --threads 2 (torch's intra-op pool
#              and OpenBLAS's; for tapegrad, whose ops run on the calling thread, OpenBLAS's),
#              unpinned. Default "t1 t2".
#   --big      configs A B C instead of A alone (B and C take minutes per run)
#   --configs  any of A B C D (the configs of tools/bench/reference/run_all.sh)
#   --ftz      the peers also with torch.set_flush_denormal(True) (impls libtorch-ftz and
#              torch-py-ftz), as tapegrad computes: a lead that does not rest on the peers
#              computing on subnormals (config D's decaying gradients)
#   --infer    inference instead of training: every program runs with --infer (predict of
#              the config's samples in batches, and a stateful forecast fed one step at a
#              time; tools/bench/inference.hpp), the limit (which trains) is left out, and the
#              table shows predict ms and forecast us per step with the ratios
#              "libtorch / tapegrad" and "best peer / tapegrad"
#
# Runs are interleaved (run r of every config, mode and impl before run r + 1), so a slower
# spell of the shared machine hits every impl alike. Each cell of the table is the median
# over runs of each run's median epoch ms. "best peer" is the faster of libtorch and torch-py
# in the same mode; "any mode" the fastest peer figure of the config over all modes run (the
# speed targets are judged against it).
#
# The libtorch reference is built (once, and again when torch_rnn.cpp changes) into
# $REF_BUILD (default /tmp/tapegrad-ref-build-<checksum of the reference dir>), outside the
# source tree. It is skipped when libtorch is missing, and torch-py when $PYTHON (default
# /usr/bin/python3) cannot import torch. Raw JSON lines (each the program's line plus
# "config" and "mode") go to $OUT (default /tmp/bench_rnn.jsonl; with --infer
# /tmp/bench_rnn_infer.jsonl), which the reference's summarize.py also reads.
set -euo pipefail

usage='usage: bench_rnn.sh BUILD_DIR [--runs N] [--runs2 N] [--modes "t1 t2"] [--big] [--configs "A B"] [--ftz] [--infer]'
build=${1:?$usage}
shift
runs1=3
runs2=5
modes="t1 t2"
configs="A"
ftz=false
infer=()  # with --infer: (--infer), the flag every program gets
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs1=${2:?$usage}; shift 2 ;;
    --runs2) runs2=${2:?$usage}; shift 2 ;;
    --modes) modes=${2:?$usage}; shift 2 ;;
    --big) configs="A B C"; shift ;;
    --configs) configs=${2:?$usage}; shift 2 ;;
    --ftz) ftz=true; shift ;;
    --infer) infer=(--infer); shift ;;
    *) echo "bench_rnn.sh: unknown option $1; $usage" >&2; exit 2 ;;
  esac
done
for mode in $modes; do
  [[ $mode == t1 || $mode == t2 ]] || { echo "bench_rnn.sh: unknown mode $mode (t1, t2)" >&2; exit 2; }
done

repo=$(cd "$(dirname "$0")/../.." && pwd)
ref=${REF_DIR:-$repo/tools/bench/reference}
# One build dir per reference dir: CMake refuses a build dir made from another source.
ref_build=${REF_BUILD:-/tmp/tapegrad-ref-build-$(printf '%s' "$ref" | cksum | cut -d' ' -f1)}
python=${PYTHON:-/usr/bin/python3}
out=${OUT:-/tmp/bench_rnn${infer:+_infer}.jsonl}
tg_bin=$build/tools/tapegrad
[[ -x $tg_bin ]] || { echo "no $tg_bin: build target tapegrad_cli first" >&2; exit 1; }
[[ -d $ref ]] || { echo "no reference dir $ref" >&2; exit 1; }

# The references, built outside the repo (never inside the repository).
torch_bin=$ref_build/torch_rnn
# Rebuilt when its source is newer: a binary from before a flag it lacks (--infer) would fail.
if [[ ! -x $torch_bin || $ref/torch_rnn.cpp -nt $torch_bin ]]; then
  echo "building the libtorch reference in $ref_build" >&2
  if cmake -S "$ref" -B "$ref_build" -DCMAKE_BUILD_TYPE=Release >"$ref_build.log" 2>&1 &&
    cmake --build "$ref_build" --target torch_rnn >>"$ref_build.log" 2>&1; then
    :
  else
    echo "libtorch reference did not build (see $ref_build.log; tools/install-deps.sh --torch installs libtorch): skipped" >&2
  fi
fi
impls=(tapegrad)
limit_bin=$build/tools/limit_rnn
[[ -x $limit_bin && ${#infer[@]} -eq 0 ]] && impls+=(limit)
[[ -x $torch_bin ]] && impls+=(libtorch)
if "$python" -c 'import torch' 2>/dev/null; then
  impls+=(torch-py)
else
  echo "$python cannot import torch: torch-py skipped" >&2
fi
if $ftz; then
  for impl in libtorch torch-py; do
    [[ " ${impls[*]} " == *" $impl "* ]] && impls+=("$impl-ftz")
  done
fi

# shellcheck source=configs.sh
source "$repo/tools/bench/configs.sh"

runs_of() { [[ $1 == t1 ]] && echo "$runs1" || echo "$runs2"; }

# One run: the program's JSON line with "config" and "mode" appended.
run_one() {  # config mode impl
  local threads=1 prog pin=()
  [[ $2 == t2 ]] && threads=2
  [[ $2 == t1 ]] && command -v taskset >/dev/null && pin=(taskset -c 0)
  case $3 in
    tapegrad) prog=("$tg_bin" bench) ;;
    limit) prog=("$limit_bin") ;;
    libtorch) prog=("$torch_bin") ;;
    torch-py) prog=("$python" "$ref/torch_rnn.py") ;;
    libtorch-ftz) prog=("$torch_bin" --flush-denormal) ;;
    torch-py-ftz) prog=("$python" "$ref/torch_rnn.py" --flush-denormal) ;;
  esac
  local line
  # shellcheck disable=SC2046  # the config's flags are meant to split
  line=$(OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
    "${pin[@]}" "${prog[@]}" $(config_args "$1") --threads "$threads" "${infer[@]}" | tail -n 1)
  echo "${line%\}}, \"config\": \"$1\", \"mode\": \"$2\"}"
}

max_runs=$runs1
((runs2 > max_runs)) && max_runs=$runs2
: >"$out"
for ((r = 1; r <= max_runs; ++r)); do
  for cfg in $configs; do
    for mode in $modes; do
      ((r <= $(runs_of "$mode"))) || continue
      for impl in "${impls[@]}"; do
        # the limit is written for SimpleRNN alone
        [[ $impl == limit && $(config_args "$cfg") != *"--cell rnn"* ]] && continue
        run_one "$cfg" "$mode" "$impl" | tee -a "$out" | cut -c1-160 >&2
      done
    done
  done
done

if [[ ${#infer[@]} -gt 0 ]]; then
  "$python" - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:
    by.setdefault((r["config"], r["mode"], r["impl"]), []).append(r)
order = {"tapegrad": 0, "libtorch": 1, "torch-py": 2, "libtorch-ftz": 3, "torch-py-ftz": 4}
keys = sorted(by, key=lambda k: (k[0], k[1], order.get(k[2], 9)))
def med(key, field):
    return statistics.median(r[field] for r in by[key]) if key in by else None
def fmt(x, spec):
    return "-" if x is None else format(x, spec)
def ratio(peer, tg):
    return fmt(peer / tg if peer and tg else None, ".2f") + "x"

print("\npredict ms = median over runs of each run's median call (all samples, in batches); "
      "step us = the same of a stateful forecast's time per step (batch 1)")
print(f"{'config':<7}{'mode':<5}{'impl':<10}{'runs':>5}{'predict ms':>12}{'min..max':>16}"
      f"{'step us':>10}{'min..max':>16}{'steps/s':>11}{'max |step-predict|':>20}")
for key in keys:
    g = by[key]
    p = [r["predict_ms_median"] for r in g]
    s = [r["step_us_median"] for r in g]
    diff = max(r["step_vs_predict_max_abs_diff"] for r in g)
    print(f"{key[0]:<7}{key[1]:<5}{key[2]:<10}{len(g):>5}{med(key, 'predict_ms_median'):>12.4f}"
          f"{f'{min(p):.3f}..{max(p):.3f}':>16}{med(key, 'step_us_median'):>10.2f}"
          f"{f'{min(s):.1f}..{max(s):.1f}':>16}{med(key, 'steps_per_s'):>11.0f}{diff:>20.3g}")

print("\n| config | mode | tapegrad predict ms | libtorch predict ms | torch-py predict ms "
      "| libtorch / tapegrad | best peer / tapegrad | tapegrad step us | libtorch step us "
      "| torch-py step us | libtorch / tapegrad | best peer / tapegrad |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for c, m in sorted({k[:2] for k in by}):
    cells = []
    for field, spec in (("predict_ms_median", ".3f"), ("step_us_median", ".2f")):
        tg, lt, py = (med((c, m, i), field) for i in ("tapegrad", "libtorch", "torch-py"))
        best = min((x for x in (lt, py) if x), default=None)
        cells += [fmt(tg, spec), fmt(lt, spec), fmt(py, spec), ratio(lt, tg), ratio(best, tg)]
    print(f"| {c} | {m} | " + " | ".join(cells) + " |")
for impl in sorted({r["impl"] for r in rows}, key=lambda i: order.get(i, 9)):
    blas = sorted({r["blas"] for r in rows if r["impl"] == impl})
    print(f"blas ({impl}): {' | '.join(blas)}")
EOF
  exit 0
fi

"$python" - "$out" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {}
for r in rows:
    by.setdefault((r["config"], r["mode"], r["impl"]), []).append(r)
med = {k: statistics.median(r["epoch_ms_median"] for r in g) for k, g in by.items()}
rss = {k: max(r["peak_rss_mb"] for r in g) for k, g in by.items()}
order = {"tapegrad": 0, "limit": 1, "libtorch": 2, "torch-py": 3, "libtorch-ftz": 4,
         "torch-py-ftz": 5}
peers = ("libtorch", "torch-py")
ftz_peers = ("libtorch-ftz", "torch-py-ftz")

print("\nepoch ms = median over runs of each run's median epoch; t1: 1 thread (pinned), "
      "t2: 2 threads (--threads 2, OMP/OPENBLAS_NUM_THREADS=2)")
print(f"{'config':<7}{'mode':<5}{'impl':<10}{'runs':>5}{'epoch ms':>11}{'min..max':>20}"
      f"{'final loss':>13}{'peak RSS MB':>13}")
for key in sorted(by, key=lambda k: (k[0], k[1], order.get(k[2], 9))):
    g = by[key]
    ms = [r["epoch_ms_median"] for r in g]
    loss = statistics.median(r["final_loss"] for r in g)
    lo_hi = f"{min(ms):.2f}..{max(ms):.2f}"
    print(f"{key[0]:<7}{key[1]:<5}{key[2]:<10}{len(g):>5}{med[key]:>11.3f}{lo_hi:>20}"
          f"{loss:>13.6g}{rss[key]:>13.1f}")

def fmt(x, spec):
    return "-" if x is None else format(x, spec)

print("\n| config | mode | tapegrad ms | limit ms | tapegrad / limit | libtorch ms | torch-py ms "
      "| best peer / tapegrad | best peer any mode / tapegrad | best peer ftz / tapegrad "
      "| tapegrad speedup vs t1 | peak RSS MB tapegrad / libtorch |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for c in sorted({k[0] for k in by}):
    modes = sorted({k[1] for k in by if k[0] == c})
    any_mode = [med[(c, m, p)] for m in modes for p in peers if (c, m, p) in med]
    best_any = min(any_mode) if any_mode else None
    for m in modes:
        tg = med.get((c, m, "tapegrad"))
        here = [med[(c, m, p)] for p in peers if (c, m, p) in med]
        best = min(here) if here else None
        here_ftz = [med[(c, m, p)] for p in ftz_peers if (c, m, p) in med]
        best_ftz = min(here_ftz) if here_ftz else None
        t1 = med.get((c, "t1", "tapegrad"))
        rss_tg, rss_lt = rss.get((c, m, "tapegrad")), rss.get((c, m, "libtorch"))
        rss_ratio = f"{rss_tg:.1f} / {rss_lt:.1f} = {rss_tg / rss_lt:.2f}" if rss_tg and rss_lt else "-"
        limit = med.get((c, m, "limit"))
        print(f"| {c} | {m} | {fmt(tg, '.2f')} | {fmt(limit, '.2f')} "
              f"| {fmt(tg / limit if tg and limit else None, '.2f')}x "
              f"| {fmt(med.get((c, m, 'libtorch')), '.2f')} "
              f"| {fmt(med.get((c, m, 'torch-py')), '.2f')} "
              f"| {fmt(best / tg if best and tg else None, '.2f')}x "
              f"| {fmt(best_any / tg if best_any and tg else None, '.2f')}x "
              f"| {fmt(best_ftz / tg if best_ftz and tg else None, '.2f')}x "
              f"| {fmt(t1 / tg if t1 and tg else None, '.2f')}x | {rss_ratio} |")
for impl in sorted({r["impl"] for r in rows}, key=lambda i: order.get(i, 9)):
    blas = sorted({r["blas"] for r in rows if r["impl"] == impl})
    print(f"blas ({impl}): {' | '.join(blas)}")
EOF
