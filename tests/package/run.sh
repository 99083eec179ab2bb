#!/usr/bin/env bash
# Package test: install tapegrad from an already built build directory into a temporary
# prefix, then configure, build and run the outside project in tests/package against it
# with find_package(tapegrad CONFIG REQUIRED), as a user's project would; then the same for
# the documented template users copy (tools/examples/template). With tools built, the
# installed `tapegrad run` must compile against the prefix alone and run every example of
# tools/examples (tools/examples/run_all.sh), each built from an empty cache.
#   tests/package/run.sh [BUILD_DIR]     (default: build)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tapegrad-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== package test: install $build -> $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || {
  cat "$work/install.log"
  exit 1
}

for f in include/tapegrad/tapegrad.hpp include/tapegrad/core/tensor.hpp lib/libtapegrad.so \
  lib/cmake/tapegrad/tapegradConfig.cmake lib/cmake/tapegrad/tapegradConfigVersion.cmake \
  lib/cmake/tapegrad/tapegradTargets.cmake; do
  [[ -e $prefix/$f ]] || {
    echo "package test: $f was not installed" >&2
    exit 1
  }
done
# libtapegrad (core to nn) needs neither Graphviz nor the charts: tapegrad::viz brings those.
if [[ -e $prefix/lib/libtapegrad.so ]]; then
  needed=$(readelf -d "$prefix/lib/libtapegrad.so" | grep NEEDED || true)
  if grep -qE 'libgvc|libcgraph|libplplot' <<<"$needed"; then
    echo "package test: libtapegrad.so links a drawing library: $needed" >&2
    exit 1
  fi
fi
if [[ -x $build/tools/tapegrad ]]; then
  "$prefix/bin/tapegrad" --version
  # `tapegrad run` from the prefix compiles against the installed headers, precompiled header
  # and library, and nothing of the build tree (which a user may have deleted).
  flags=$("$prefix/bin/tapegrad" run --print-flags)
  if grep -qF -e "$root/" -e "$build" <<<"$flags"; then
    echo "package test: the installed tapegrad run compiles against the build tree: $flags" >&2
    exit 1
  fi
  printf '%s\n' '#include <tapegrad/tapegrad.hpp>' 'namespace tg = tapegrad;' \
    'int main() { fmt::print("sum {}\n", tg::sum(tg::ones({2, 3})).item()); }' >"$work/script.cpp"
  [[ $(TAPEGRAD_CACHE_DIR=$work/cache "$prefix/bin/tapegrad" run "$work/script.cpp") == "sum 6" ]] || {
    echo "package test: the installed tapegrad run did not run a script" >&2
    exit 1
  }
  echo "== package test: every example of tools/examples by the installed tapegrad run"
  TAPEGRAD_CACHE_DIR=$work/cache bash "$root/tools/examples/run_all.sh" "$prefix/bin/tapegrad"
fi
# The installed package must not point back into the source or build tree.
if grep -rlF -e "$root/" -e "$build" "$prefix/lib/cmake/tapegrad"; then
  echo "package test: installed CMake files refer to the source or build tree" >&2
  exit 1
fi

echo "== package test: configure tests/package with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$root/tests/package" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/configure.log" || {
  cat "$work/configure.log"
  exit 1
}
grep -F "tapegrad " "$work/configure.log" | grep -F "$prefix" || {
  cat "$work/configure.log"
  echo "package test: tapegrad was not found in $prefix" >&2
  exit 1
}
cmake --build "$work/build" -j "$(nproc)"
"$work/build/package_test"

# The template of tools/examples/template/README.md, configured exactly as documented there;
# -Werror on top, so that a tapegrad header that starts to warn under the template's
# warning flags fails here rather than in a user's build.
echo "== package test: configure tools/examples/template with CMAKE_PREFIX_PATH=$prefix"
cmake -S "$root/tools/examples/template" -B "$work/template" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_CXX_FLAGS=-Werror \
  >"$work/template-configure.log" || {
  cat "$work/template-configure.log"
  exit 1
}
cmake --build "$work/template" -j "$(nproc)"
"$work/template/app" | tee "$work/template-run.log"
grep -q "^Final loss: " "$work/template-run.log" || {
  echo "package test: the template app did not print its final loss" >&2
  exit 1
}
echo "package test: template ok"
