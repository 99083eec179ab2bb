#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang 14, ASan + UBSan, in build-fuzz/) and
# fuzzes each one, then prints a summary: executions, coverage (cov: edges, ft: features),
# corpus size and findings per target. Exits 1 when there is a finding.
#   tools/fuzz.sh [--time SECONDS] [--jobs N] [--work DIR] [TARGET...]
#     TARGET     safetensors, nn_load, checkpoint, csv, model_config, predict_csv (default: all)
#     --time     seconds per target (default 600)
#     --jobs     N: libFuzzer's fork mode with N child processes, which goes on after a
#                finding and saves every one (for campaigns; 1 on a shared machine);
#                without it: one process that stops at the first finding (what CI runs)
#     --work     where the growing corpora, findings and logs go, outside the tracked tree
#                (default build-fuzz/campaign); a later campaign resumes from its corpora
# Each target starts from its committed seeds (tests/fuzz/corpus/TARGET) plus what earlier
# runs added under WORK/corpus/TARGET, and first replays the committed reproducers of
# tests/fuzz/findings/TARGET, so a finding once fixed stays fixed. The new inputs worth
# keeping stay in WORK; copy one into tests/fuzz/corpus only by hand, small ones only.
# A finding lands in WORK/findings/TARGET/ (crash-*, timeout-*, oom-*, leak-*); replay it with
#   build-fuzz/tests/fuzz/fuzz_TARGET FILE      and minimize it with
#   build-fuzz/tests/fuzz/fuzz_TARGET -minimize_crash=1 -max_total_time=60 FILE
# BUILD_DIR (default build-fuzz), CXX (default clang++-14) and JOBS (build, default nproc)
# may be set in the environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build-fuzz}
all_targets=(safetensors nn_load checkpoint csv model_config predict_csv)

usage() {
  sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

seconds=600
jobs=0
work=$build/campaign
targets=()
while (($# > 0)); do
  case $1 in
    --time) seconds=${2:?}; shift 2 ;;
    --jobs) jobs=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t'" >&2; usage; }
done

bash tools/install-deps.sh --fuzz
if [[ ! -f $build/CMakeCache.txt ]]; then
  CXX=${CXX:-clang++-14} cmake -S . -B "$build" -DTAPEGRAD_FUZZ=ON -DTAPEGRAD_BUILD_TESTS=OFF \
    -DTAPEGRAD_BUILD_TOOLS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
fi
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

mkdir -p "$work"
work=$(cd "$work" && pwd)
# A finding must stop the input at once (abort), so that libFuzzer saves it; LeakSanitizer
# ignores only the third-party caches listed in .ci/lsan.supp.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1:${ASAN_OPTIONS:-}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}
export LSAN_OPTIONS=suppressions=$root/.ci/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}
# One thread for OpenBLAS: the inputs are tiny, and threads only cost memory here.
export OPENBLAS_NUM_THREADS=1

# The dictionary of a target: its own tokens, plus the safetensors header tokens for the
# targets that read safetensors files.
dictionary() {
  local t=$1 out=$work/$1.dict
  : >"$out"
  [[ $t == nn_load || $t == checkpoint ]] && cat tests/fuzz/safetensors.dict >>"$out"
  [[ $t == predict_csv ]] && cat tests/fuzz/csv.dict >>"$out"
  cat "tests/fuzz/$t.dict" >>"$out"
  echo "$out"
}

# Runs the committed reproducers of target $1 once each; 0 when none fails.
replay_findings() {
  local t=$1 dir=tests/fuzz/findings/$1
  [[ -d $dir ]] && compgen -G "$dir/*" >/dev/null || return 0
  "$build/tests/fuzz/fuzz_$t" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/logs/$t.replay-" "$dir"/* >"$work/logs/$t.replay.log" 2>&1
}

# The last libFuzzer status line ("#123 ... cov: 45 ft: 67 corp: 8/1Kb ..." in one process,
# "#123: cov: 45 ft: 67 corp: 8 exec/s 9 ..." in fork mode) as "execs cov ft corp exec/s".
figures() {
  grep -aoE '#[0-9]+:?[[:space:]].*cov: .*' "$1" | tail -1 |
    sed -E 's/^#([0-9]+):?[[:space:]].*cov: ([0-9]+) ft: ([0-9]+) corp: ([^ ]+).*exec\/s:? ([0-9]+).*/\1 \2 \3 \4 \5/'
}

mkdir -p "$work/logs"
mode="one process"
((jobs > 0)) && mode="fork mode, $jobs jobs"
summary=()
failed=0
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  findings=$work/findings/$t
  mkdir -p "$corpus" "$findings"
  log=$work/logs/$t.log
  replay=ok
  replay_findings "$t" || replay="FAILED (see $work/logs/$t.replay.log)"
  touch "$work/logs/$t.start"
  echo "=== fuzz_$t: ${seconds}s, $mode, corpus $corpus (log $log)"
  flags=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -print_funcs=0
    -dict="$(dictionary "$t")" -artifact_prefix="$findings/")
  if ((jobs > 0)); then
    flags+=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  fi
  # The first directory receives the new inputs, so the committed seeds stay untouched.
  status=0
  (cd "$work" && "$root/$build/tests/fuzz/fuzz_$t" "${flags[@]}" "$corpus" \
    "$root/tests/fuzz/corpus/$t") >"$log" 2>&1 || status=$?
  new=$(find "$findings" -type f -newer "$work/logs/$t.start" | wc -l)
  read -r execs cov ft corp rate <<<"$(figures "$log")" || true
  line=$(printf '%-12s %12s execs %7s exec/s  cov %5s  ft %6s  corpus %-10s findings %s' \
    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$new")
  if ((new > 0 || status != 0)) || [[ $replay != ok ]]; then
    failed=1
    line+="  <- exit $status, replay of tests/fuzz/findings: $replay"
    grep -aE 'FINDING|ERROR: |SUMMARY: |runtime error|Test unit written' "$log" | head -20 || true
    find "$findings" -type f -newer "$work/logs/$t.start" | head -5 | sed 's/^/  reproducer: /'
  fi
  summary+=("$line")
done

echo
echo "fuzz summary (${seconds}s per target, $mode; work dir $work):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
