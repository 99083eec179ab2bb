#!/usr/bin/env bash
# Data-parallel training, tapegrad beside PyTorch's DistributedDataParallel: the workloads of
# tools/bench/reference (configs.sh) trained on 1 and 2 ranks of this machine, 1 BLAS /
# torch thread per rank, in the same run, and a table: median epoch ms, samples/s, the ratio
# DDP / tapegrad at the same ranks, the scaling 1 rank / 2 ranks, and the communication per
# step with the share of the time backward waited for it. A row "tapegrad-nocomm" is the
# ceiling of the scaling on this machine: two `tapegrad bench` processes at once, each on a
# rank's share (half the samples in half-size batches), no communication.
#
# usage: tools/bench/bench_dist.sh BUILD_DIR [--runs N] [--configs "A B"] [--epochs-a N]
#                                  [--epochs-b N] [--buckets "F,B F,B ..."] [--smoke]
#   BUILD_DIR   a tapegrad build dir with tools/tapegrad built (target tapegrad_cli)
#   --runs N    runs per (config, impl, ranks), interleaved (default 3)
#   --configs   any of A B C D (default "A B")
#   --epochs-a/--epochs-b   timed epochs of A (default 100) and B (default 2)
#   --buckets   also tapegrad on 2 ranks with each pair of DataParallel bucket sizes in KiB,
#               first bucket,later buckets (e.g. "64,256 256,1024 1024,4096 25600,25600"),
#               and a second table of epoch ms and communication per pair
#   --smoke     one run of A, 3 epochs, 1 and 2 ranks, and a check that every run printed
#               its line and that 2 ranks end at the loss of 1 rank (same math, rounding
#               apart); exits non-zero otherwise
#
# tapegrad: `tapegrad bench` alone (1 rank) and under `mpirun -np 2 --oversubscribe
# --bind-to none` (2 ranks, rank 0's line). PyTorch: bench_dist_torch.py --ranks 1|2, DDP over
# gloo (its exposed-communication figures are DDP's own timer estimate, see that file; the
# one-rank runs of both train without any data-parallel wrapper). Runs are interleaved (run
# r of every config, ranks and impl before run r + 1), so a slower spell of the shared
# machine hits all alike; each cell is the median over runs of each run's median epoch.
# torch is skipped when $PYTHON (default /usr/bin/python3) cannot import it or the reference
# folder ($REF_DIR, default tools/bench/reference) is missing. Raw JSON
# lines (each plus "config") go to $OUT (default /tmp/bench_dist.jsonl).
set -euo pipefail

usage='usage: bench_dist.sh BUILD_DIR [--runs N] [--configs "A B"] [--epochs-a N] [--epochs-b N] [--buckets "F,B ..."] [--smoke]'
build=${1:?$usage}
shift
runs=3
configs="A B"
epochs_a=100
epochs_b=2
buckets=""
smoke=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=${2:?$usage}; shift 2 ;;
    --configs) configs=${2:?$usage}; shift 2 ;;
    --epochs-a) epochs_a=${2:?$usage}; shift 2 ;;
    --epochs-b) epochs_b=${2:?$usage}; shift 2 ;;
    --buckets) buckets=${2:?$usage}; shift 2 ;;
    --smoke) smoke=1; shift ;;
    *) echo "bench_dist.sh: unknown option $1; $usage" >&2; exit 2 ;;
  esac
done
if ((smoke)); then
  runs=1 configs="A" epochs_a=3 buckets=${buckets:-64,256}
fi

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=configs.sh
source "$repo/tools/bench/configs.sh"
export REF_DIR=${REF_DIR:-$repo/tools/bench/reference}
python=${PYTHON:-/usr/bin/python3}
out=${OUT:-/tmp/bench_dist.jsonl}
tg_bin=$build/tools/tapegrad
[[ -x $tg_bin ]] || { echo "no $tg_bin: build target tapegrad_cli first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench_dist.sh: no mpirun on PATH" >&2; exit 1; }
for cfg in $configs; do config_args "$cfg" >/dev/null; done

impls=(tapegrad)
if [[ -f $REF_DIR/torch_rnn.py ]] && "$python" -c 'import torch.distributed' 2>/dev/null; then
  impls+=(torch-ddp)
else
  echo "no torch for $python or no $REF_DIR/torch_rnn.py: torch-ddp skipped" >&2
fi

# One BLAS / torch thread per rank; mpirun as root needs its consent.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun -np 2 --oversubscribe --bind-to none)

epochs_of() {
  case $1 in
    A) echo "$epochs_a" ;;
    B) echo "$epochs_b" ;;
    *) echo "" ;;  # the config's own
  esac
}

# The flags of a rank's share of 2: half the samples, in half-size batches.
halve() {
  local words=() prev=""
  for word in "$@"; do
    if [[ $prev == --samples || $prev == --batch ]]; then words+=($((word / 2))); else words+=("$word"); fi
    prev=$word
  done
  echo "${words[*]}"
}

# The 2 ranks' work without their communication: two `tapegrad bench` processes at once, each
# on a rank's share. The slower one's line, made a 2-rank line of "impl" "tapegrad-nocomm":
# what this machine gives 2 ranks if communicating cost nothing (the ceiling of the scaling).
run_no_comm() {  # config
  local flags pids=() i
  # shellcheck disable=SC2046  # the config's flags are meant to split
  read -r -a flags <<<"$(halve $(config_args "$1" "$(epochs_of "$1")"))"
  for i in 0 1; do
    "$tg_bin" bench "${flags[@]}" --threads 1 | tail -n 1 >"$tmp/no_comm.$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
  "$python" - "$tmp/no_comm.0" "$tmp/no_comm.1" "$1" <<'EOF'
import json, sys
lines = [json.loads(open(path).read()) for path in sys.argv[1:3]]
r = max(lines, key=lambda line: line["epoch_ms_median"])
r.update(impl="tapegrad-nocomm", ranks=2, samples=2 * r["samples"], batch=2 * r["batch"],
         samples_per_s=2 * r["samples_per_s"], config=sys.argv[3])
print(json.dumps(r))
EOF
}

# One run: the program's JSON line with "config" appended.
run_one() {  # config impl ranks [first_kb,bucket_kb]
  local prog=() extra=()
  case $2 in
    tapegrad)
      prog=("$tg_bin" bench)
      (($3 > 1)) && prog=("${mpi[@]}" "${prog[@]}")
      [[ -n ${4:-} ]] && extra=(--first-bucket-kb "${4%,*}" --bucket-kb "${4#*,}")
      ;;
    torch-ddp) prog=("$python" "$repo/tools/bench/bench_dist_torch.py" --ranks "$3") ;;
  esac
  local line
  # shellcheck disable=SC2046  # the config's flags are meant to split
  line=$("${prog[@]}" $(config_args "$1" "$(epochs_of "$1")") --threads 1 "${extra[@]}" |
    tail -n 1)
  [[ $line == "{"* ]] || { echo "bench_dist.sh: $2 on $3 ranks printed no JSON line" >&2; exit 1; }
  echo "${line%\}}, \"config\": \"$1\"}"
}

: >"$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_dist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for ((r = 1; r <= runs; ++r)); do
  for cfg in $configs; do
    for ranks in 1 2; do
      for impl in "${impls[@]}"; do
        run_one "$cfg" "$impl" "$ranks" | tee -a "$out" | cut -c1-120 >&2
      done
    done
    run_no_comm "$cfg" | tee -a "$out" | cut -c1-120 >&2
    for pair in $buckets; do
      run_one "$cfg" tapegrad 2 "$pair" | sed 's/}$/, "sweep": true}/' | tee -a "$out" |
        cut -c1-120 >&2
    done
  done
done

"$python" - "$out" "$smoke" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
smoke = sys.argv[2] == "1"
order = {"tapegrad": 0, "tapegrad-nocomm": 1, "torch-ddp": 2}
base = {"tapegrad-nocomm": "tapegrad"}  # whose 1-rank run a row scales from

def median(g, key):
    values = [r[key] for r in g if r.get(key) is not None]
    return statistics.median(values) if values else None

def fmt(x, spec):
    return "-" if x is None else format(x, spec)

main = {}
for r in rows:
    if not r.get("sweep"):
        main.setdefault((r["config"], r["impl"], r["ranks"]), []).append(r)
ms = {k: median(g, "epoch_ms_median") for k, g in main.items()}

print("\nepoch ms: median over runs of each run's median epoch; 1 BLAS/torch thread per rank; "
      "DDP / tapegrad > 1: tapegrad faster; scaling: 1-rank ms / 2-rank ms of the same impl; "
      "exposed share: the part of the epoch backward waited for communication (torch: DDP's "
      "own estimate)")
print("\n| config | impl | ranks | runs | epoch ms | samples/s | DDP / tapegrad | scaling 2 vs 1 "
      "| comm ms/step | exposed ms/step | exposed share | final loss |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in sorted(main, key=lambda k: (k[0], k[2], order.get(k[1], 9))):
    c, impl, ranks = key
    g = main[key]
    ratio = None
    if impl not in base and (c, "tapegrad", ranks) in ms and (c, "torch-ddp", ranks) in ms:
        ratio = ms[(c, "torch-ddp", ranks)] / ms[(c, "tapegrad", ranks)]
    one = (c, base.get(impl, impl), 1)
    scaling = ms[one] / ms[key] if ranks == 2 and one in ms else None
    print(f"| {c} | {impl} | {ranks} | {len(g)} | {ms[key]:.2f} "
          f"| {fmt(median(g, 'samples_per_s'), '.0f')} | {fmt(ratio, '.2f')} "
          f"| {fmt(scaling, '.2f')} | {fmt(median(g, 'comm_ms_per_step'), '.3f')} "
          f"| {fmt(median(g, 'exposed_ms_per_step'), '.3f')} "
          f"| {fmt(median(g, 'exposed_comm_share'), '.3f')} "
          f"| {'-' if impl in base else format(median(g, 'final_loss'), '.6g')} |")

sweep = {}
for r in rows:
    if r.get("sweep"):
        sweep.setdefault((r["config"], r["first_bucket_kb"], r["bucket_kb"]), []).append(r)
if sweep:
    print("\ntapegrad on 2 ranks by DataParallel bucket sizes (KiB)")
    print("\n| config | first bucket KiB | bucket KiB | runs | buckets | epoch ms | comm ms/step "
          "| exposed ms/step | exposed share |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in sorted(sweep):
        g = sweep[key]
        print(f"| {key[0]} | {key[1]} | {key[2]} | {len(g)} | {g[0]['buckets']} "
              f"| {median(g, 'epoch_ms_median'):.2f} | {median(g, 'comm_ms_per_step'):.3f} "
              f"| {median(g, 'exposed_ms_per_step'):.3f} "
              f"| {median(g, 'exposed_comm_share'):.3f} |")

if smoke:
    # Every (impl, ranks) printed its line, and 2 ranks, which take the steps of 1 rank on
    # whole batches, end at its loss (to rounding).
    checks = []
    for c in sorted({k[0] for k in main}):
        for impl in sorted({k[1] for k in main} - set(base)):
            one, two = main.get((c, impl, 1)), main.get((c, impl, 2))
            checks.append((f"{c} {impl}: a line from 1 and 2 ranks", one and two))
            if one and two:
                a, b = one[0]["final_loss"], two[0]["final_loss"]
                checks.append((f"{c} {impl}: final loss {b} on 2 ranks, {a} on 1",
                               abs(a - b) <= 1e-4 * abs(a)))
    checks += [(f"{k[0]}: bucket sizes {k[1]},{k[2]} ran", True) for k in sweep]
    for name, ok in checks:
        if not ok:
            print("bench_dist.sh --smoke: failed:", name, file=sys.stderr)
    failed = sum(1 for _, ok in checks if not ok)
    print(f"smoke: {len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
EOF
