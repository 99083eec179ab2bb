#!/usr/bin/env bash
# Installs the Debian 12 packages tapegrad needs to build, run and test, only those that are
# missing, so a second run costs nothing. Works as root (CI, containers) or through sudo.
# Options add what only some need (they combine):
#   tools/install-deps.sh           what building, running and testing need
#   tools/install-deps.sh --ci      also the tools of .ci/run's own checks: clang-format
#                                   (the format check), git, python3 (its JSON check)
#   tools/install-deps.sh --fuzz    also clang 14 and libFuzzer, for the fuzz targets
#                                   (tests/fuzz, tools/fuzz.sh; .ci/run asks for them)
#   tools/install-deps.sh --torch   also libtorch and PyTorch, for the side-by-side
#                                   benchmarks (tools/bench/bench_*.sh) and to regenerate the
#                                   parity fixtures (the tests read the committed ones)
set -euo pipefail

packages=(
  build-essential     # g++ 12, make, libc headers; g++ brings the ASan/UBSan runtimes
  cmake               # cmake, ctest
  pkg-config          # finds Graphviz for cmake
  libopenblas-dev     # BLAS (cblas) for matmul
  libxsmm-dev         # JIT kernels for the small matmuls of the recurrent layers
  # JIT kernels by the CPU's features for the large f32 matmuls (weight gradients over many
  # steps, an LSTM(512)'s gates): 1.7-1.9x OpenBLAS 0.3.21's Haswell kernels on AVX-512 CPUs
  # (tools/bench/bench_gemm.cpp). About 40 MB installed, with libgomp (GCC's OpenMP) and the
  # small OpenCL loader it depends on.
  libdnnl-dev
  libfmt-dev          # printing
  doctest-dev         # the test suites
  libgraphviz-dev     # graph rendering (libgvc, with its layout and svg/png/pdf plugins)
  nlohmann-json3-dev  # safetensors headers
  libcli11-dev        # the tapegrad command line
  gnuplot-nox         # the program that draws the charts (tools/viz/chart.cpp): svg, png, pdf
  libopenmpi-dev      # distributed training (core/dist.cpp, TAPEGRAD_MPI): MPI's C API
  openmpi-bin         # mpirun, which runs the multi-rank tests (tests/mpi)
  # The browser test of the interactive pages (tests/tools/cli/test_cli_page.cpp): headless
  # Chromium loads `tapegrad dot -o graph.html` and checks the DOM. By far the largest
  # package here (about 290 MB installed with its libraries, against some 60 MB for
  # Graphviz); a test dependency all the same, like gnuplot: the suite fails without it
  # rather than skip the one test that proves the pages work in a browser.
  chromium
)
ci_packages=(
  clang-format        # the format check in .ci/run
  git                 # the format check lists tracked files
  python3             # .ci/run reads the benchmark's JSON line
)
fuzz_packages=(
  clang-14            # libFuzzer is clang's; g++ has no -fsanitize=fuzzer
  libclang-rt-14-dev  # clang's ASan/UBSan runtimes
  libfuzzer-14-dev    # libFuzzer itself
)
torch_packages=(
  libtorch-dev        # the libtorch references of tools/bench/bench_*.sh
  python3-torch       # tests/fixtures/generate_fixtures.py (with /usr/bin/python3)
)

for option in "$@"; do
  case $option in
    --ci) packages+=("${ci_packages[@]}") ;;
    --fuzz) packages+=("${fuzz_packages[@]}") ;;
    --torch) packages+=("${torch_packages[@]}") ;;
    *)
      echo "usage: tools/install-deps.sh [--ci] [--fuzz] [--torch]" >&2
      exit 2
      ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: not root and no sudo; as root run: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
