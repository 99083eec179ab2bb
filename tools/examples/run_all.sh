#!/usr/bin/env bash
# Runs every example of tools/examples with `tapegrad run`, with quick arguments (each well
# under 10 s), as CI does: prints each one's output and time, and fails if any exits nonzero.
#   tools/examples/run_all.sh TAPEGRAD_BIN [OUT_DIR]
# TAPEGRAD_BIN is the tapegrad program (an installed <prefix>/bin/tapegrad, or build/tools/
# tapegrad). The examples run inside OUT_DIR (default: a temporary directory, removed at the
# end), so whatever they write (forecast.svg, cv.csv) lands there; data is read from the
# repository's tests/fixtures by absolute path.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: tools/examples/run_all.sh TAPEGRAD_BIN [OUT_DIR]" >&2
  exit 2
fi
tapegrad=$(realpath "$1")
[[ -x $tapegrad ]] || {
  echo "run_all.sh: '$1' is not an executable" >&2
  exit 2
}
examples=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$examples/../.." && pwd)
if [[ $# -eq 2 ]]; then
  mkdir -p "$2"
  out=$(cd "$2" && pwd)
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-examples.XXXXXX")
  trap 'rm -rf "$out"' EXIT
fi
airline=$root/tests/fixtures/airline-passengers.csv

# Sets `args` to the quick arguments of example $1. An example without an entry fails the
# run, so a new one cannot be skipped by forgetting it here.
quick_args() {
  case $1 in
    reference_fit) args=(--epochs 20 --verbose 2) ;;
    reference_manual) args=(--epochs 20) ;;
    indrnn) args=(--steps 30 --epochs 10) ;;
    airline_forecast) args=(--data "$airline" --out "$out/forecast.svg" --epochs 100) ;;
    choose_hidden_size) args=(--data "$airline" --units "4,8" --folds 3 --epochs 20 --csv "$out/cv.csv") ;;
    *) return 1 ;;
  esac
}

failed=()
summary=()
for source in "$examples"/*.cpp; do
  name=$(basename "$source" .cpp)
  if ! quick_args "$name"; then
    echo "run_all.sh: no quick arguments for $name; add them to quick_args" >&2
    failed+=("$name")
    continue
  fi
  echo "== $name: tapegrad run tools/examples/$name.cpp -- ${args[*]}"
  start=$(date +%s%N)
  if (cd "$out" && "$tapegrad" run "$source" -- "${args[@]}"); then
    status=ok
  else
    status="FAILED ($?)"
    failed+=("$name")
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  summary+=("$(printf '%-20s %-12s %4d.%01d s' "$name" "$status" $((ms / 1000)) $((ms % 1000 / 100)))")
done

# What the examples promise to write.
for f in forecast.svg cv.csv; do
  [[ -s $out/$f ]] || {
    echo "run_all.sh: $out/$f was not written" >&2
    failed+=("$f")
  }
done

echo "== examples"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_all.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "all examples ok (outputs in $out)"
