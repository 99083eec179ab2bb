#!/usr/bin/env bash
# Where the time of a training epoch goes: records `tapegrad bench` on a config of
# configs.sh under perf and sorts every sample by the function it landed in into the phases
# of an epoch, printing a Markdown table (share of the samples and microseconds per epoch,
# scaled by the run's median epoch time):
#   tools/bench/profile_epoch.sh BUILD_DIR [--config A] [--epochs N] [--threads N] [--top K]
# (--top K: the K largest functions of each phase below the table.)
# GEMM          the matrix products: libxsmm's JIT kernels, libxsmm, OpenBLAS
# elementwise   tapegrad's kernels over tensors (activations, their gradients, sums, copies)
#               and the vector math library
# Adam          the optimizer's update of the parameters and its slots
# allocation    tapegrad's caching allocator, malloc and the tensors' reference counts
# tape          recording ops, and the backward pass replaying them (dispatch)
# views/shapes  tensor views, shapes and strides: the framework's bookkeeping per op
# kernel (OS)   the operating system: page faults, scheduling
# other         the rest, e.g. the program's start and the model code between ops
# The warm-up epoch and the program's start are in the record too: many epochs (default
# 3000 for A) make them a small part. Requires perf (linux-perf).
set -euo pipefail

usage='usage: profile_epoch.sh BUILD_DIR [--config A] [--epochs N] [--threads N] [--top K]'
build=${1:?$usage}
shift
config=A
epochs=
threads=1
top=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --config) config=${2:?$usage}; shift 2 ;;
    --epochs) epochs=${2:?$usage}; shift 2 ;;
    --threads) threads=${2:?$usage}; shift 2 ;;
    --top) top=${2:?$usage}; shift 2 ;;
    *) echo "profile_epoch.sh: unknown option $1; $usage" >&2; exit 2 ;;
  esac
done
repo=$(cd "$(dirname "$0")/../.." && pwd)
tg_bin=$build/tools/tapegrad
[[ -x $tg_bin ]] || { echo "no $tg_bin: build target tapegrad_cli first" >&2; exit 1; }
command -v perf >/dev/null || { echo "profile_epoch.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
# shellcheck source=configs.sh
source "$repo/tools/bench/configs.sh"
[[ -n $epochs ]] || case $config in A) epochs=3000 ;; *) epochs=2 ;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-profile.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2046  # the config's flags are meant to split
OPENBLAS_NUM_THREADS=$threads perf record -q -F 4000 -o "$work/perf.data" \
  "$tg_bin" bench $(config_args "$config" "$epochs") --threads "$threads" >"$work/bench.json"
perf report -i "$work/perf.data" --no-children --sort dso,symbol -g none --stdio \
  --percent-limit 0 2>/dev/null >"$work/report.txt"

python3 - "$work/report.txt" "$work/bench.json" "$config" "$threads" "$top" <<'EOF'
import collections, json, re, sys

report, bench, config, threads, top = sys.argv[1:]
line = json.loads(open(bench).read().strip().splitlines()[-1])
epoch_us = line["epoch_ms_median"] * 1e3

# First match wins: (phase, pattern on "dso function"), the function's name without its
# template and call arguments (a kernel's loop is named by the template it instantiates).
PHASES = [
    ("GEMM", r"\[JIT\]|libxsmm|libopenblas|sgemm|gemm_into|matmul_add_into"),
    ("Adam", r"tapegrad::optim::"),
    ("allocation", r"cached_allocate|cached_free|take_block|give_back|CachingAllocator|"
                   r"\bmalloc|\bfree\b|_int_malloc|_int_free|cfree|operator new|operator delete|"
                   r"tapegrad::empty\b|_Sp_counted|_M_release|_M_dispose"),
    ("tape", r"Record|Tape::|BackwardPass|BackwardContext|InputGradient|link_output|"
             r"tapegrad::record|run_rule|run_hooks|AutogradMeta|NameScope|TimeStep|"
             r"tapegrad::backward|GradMode|grad_enabled"),
    ("elementwise", r"libmvec|libm\.so|tapegrad::kernel::|tapegrad::vmath::|run_avx|"
                    r"tanh|sigmoid|_backward"),
    ("views/shapes", r"make_view|Shape::|strides|checked_numel|broadcast_shapes|reshape|"
                     r"select|unsqueeze|transpose|coalesce|Tensor::|slice|normalize_axis"),
    ("kernel (OS)", r"\[kernel"),
]

shares = {name: 0.0 for name, _ in PHASES}
shares["other"] = 0.0
functions = collections.defaultdict(collections.Counter)  # phase -> function -> share
def function_of(dso, symbol):
    """'dso name': the name without template and call arguments; JIT code as one."""
    if dso.startswith("[JIT]"):
        return "[JIT] libxsmm kernels"
    name = symbol.strip().split("  ")[0].replace("(anonymous namespace)", "anon")
    return dso + " " + re.split(r"[(<]", name)[0]


row = re.compile(r"^\s*([\d.]+)%\s+(.*?)\s+\[.\]\s+(.*)$")  # JIT's dso has spaces
for text in open(report):
    m = row.match(text)
    if not m:
        continue
    share, where = float(m.group(1)), function_of(m.group(2), m.group(3))
    phase = next((name for name, pat in PHASES if re.search(pat, where)), "other")
    shares[phase] += share
    functions[phase][where] += share

total = sum(shares.values()) or 1.0
print(f"config {config}, {threads} thread(s): median epoch {line['epoch_ms_median']:.3f} ms "
      f"over {line['epochs']} epochs")
print()
print("| phase | share | µs per epoch |")
print("|---|---|---|")
for name, share in sorted(shares.items(), key=lambda kv: -kv[1]):
    print(f"| {name} | {share / total * 100:.1f}% | {share / total * epoch_us:.0f} |")
for name, _ in sorted(shares.items(), key=lambda kv: -kv[1]) if int(top) > 0 else []:
    print(f"\n{name}:")
    for where, share in functions[name].most_common(int(top)):
        print(f"  {share / total * 100:5.1f}%  {where}")
EOF
