#!/usr/bin/env bash
# Installs a built Reka into a scratch prefix, then builds and runs a project outside the tree
# against it (tests/package: an example and a check of the installed headers), and checks
# reka.pc; then configures a project that embeds the source tree with add_subdirectory
# (tests/embed) and checks that it gets the library alone. Usage: package-test.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -f "$work/prefix/include/reka/reka.h"
test -f "$work/prefix/include/reka/Version.h"
test -f "$work/prefix/lib/cmake/Reka/RekaConfig.cmake"
test -x "$work/prefix/bin/reka"
if [ -d "$work/prefix/include/runtime" ] || find "$work/prefix/include/reka" -name '*.cc' | grep -q .; then
  echo "package-test: private sources were installed" >&2
  exit 1
fi
cmake_args=()
if command -v ccache >/dev/null; then cmake_args=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# The consumer uses the compiler the package was built with (the debug preset's clang: a
# sanitizer runtime must come from the compiler that instrumented the library).
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
if [ -n "$compiler" ]; then cmake_args+=(-DCMAKE_CXX_COMPILER="$compiler"); fi
# No build type: the consumer's own code unoptimised (it only has to build and run; the
# library's code is what was installed).
cmake -S "$root/tests/package" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DREKA_EXAMPLES_DIR="$root/examples" "${cmake_args[@]}" >"$work/configure.log"
cmake --build "$work/build" -j2 >"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
"$work/build/installed_headers"
# Each example runs against the installed library and prints what its in-tree test expects.
run_example() {  # NAME LINE: runs the example, whose output must hold LINE
  "$work/build/$1" >"$work/$1.out" || { echo "package-test: $1 failed" >&2; cat "$work/$1.out" >&2; exit 1; }
  grep -qx "$2" "$work/$1.out" || { echo "package-test: $1 printed no '$2'" >&2; cat "$work/$1.out" >&2; exit 1; }
}
run_example WordCount "to 4"
run_example EventTimeWindows "kitchen 1000 2000 9"
run_example KeyedStateAndTimers "alice 1000 1420 4"
run_example FileSourceWithDeadLetters "good records: 4"
run_example EmbeddedCheckpoints "run 2: running counts even=1000 odd=1000"
libs=$(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --libs reka)
libdir=$(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --variable=libdir reka)
test -f "$libdir/libreka_base.a" || { echo "package-test: reka.pc's libdir $libdir has no libreka_base.a" >&2; exit 1; }
case "$libs" in
  *-lreka_runtime*-lreka_base*) echo "reka.pc: $libs" ;;
  *) echo "package-test: reka.pc gives '$libs'" >&2; exit 1 ;;
esac

# add_subdirectory: the library and what it needs, nothing of Reka's own tree. Configured only
# (building would compile the whole library again); the target list is the check.
cmake -S "$root/tests/embed" -B "$work/embed" -G Ninja -DREKA_SOURCE_DIR="$root" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  "${cmake_args[@]}" >"$work/embed-configure.log" 2>&1 ||
  { cat "$work/embed-configure.log" >&2; exit 1; }
targets=$(ninja -C "$work/embed" -t targets all | sed 's/:.*//')
for wanted in reka/src/runtime/libreka_runtime.a reka/web/libreka_web.a embedded_word_count; do
  grep -qx "$wanted" <<<"$targets" || { echo "package-test: add_subdirectory lacks $wanted" >&2; exit 1; }
done
if grep -E '(_tests|_bench|/reka$|event_time_windows|_fuzzer)$' <<<"$targets"; then
  echo "package-test: add_subdirectory builds more than the library (above)" >&2
  exit 1
fi
if grep -qE '^(GTest_DIR|benchmark_DIR|CLI11_DIR|mimalloc_DIR)' "$work/embed/CMakeCache.txt"; then
  echo "package-test: add_subdirectory looked for the packages of the command, tests or benchmarks" >&2
  exit 1
fi
# The embedder's own file sees Reka's public headers alone: src/ is no include path of Reka::reka.
embedder=$(python3 -c 'import json,sys; print(next(e["command"] for e in json.load(open(sys.argv[1])) if e["file"].endswith("examples/WordCount.cc")))' \
  "$work/embed/compile_commands.json")
case "$embedder" in
  *"-I$root/src "* | *"-isystem $root/src "*) echo "package-test: the embedder compiles with Reka's src/: $embedder" >&2; exit 1 ;;
  *"-I$root/include "* | *"-isystem $root/include "*) ;;
  *) echo "package-test: the embedder does not get include/: $embedder" >&2; exit 1 ;;
esac
echo "package-test: ok"
