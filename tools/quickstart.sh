#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine:
#   tools/quickstart.sh run [ARGS...]  install what is missing, build the tapegrad program in
#                                      build/ (Release; the library and the program alone, not
#                                      the test suites), run the main job:
#                                      `build/tools/tapegrad train ARGS...`
#   tools/quickstart.sh test           build everything, then the whole test suite with ctest
#   tools/quickstart.sh build          install what is missing and build everything only
# BUILD_DIR (default build) and JOBS (default: nproc) may be set in the environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

# build_targets [TARGET]: everything, or TARGET and what it needs.
build_targets() {
  bash tools/install-deps.sh
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DTAPEGRAD_BUILD_TESTS=ON -DTAPEGRAD_BUILD_TOOLS=ON
  cmake --build "$build" -j "$jobs" ${1:+--target "$1"}
}

cmd=${1:-}
(($# > 0)) && shift
case $cmd in
  build)
    build_targets
    ;;
  run)
    build_targets tapegrad_cli
    exec "$build/tools/tapegrad" train "$@"
    ;;
  test)
    build_targets
    ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$jobs"
    ;;
  *)
    usage
    ;;
esac
