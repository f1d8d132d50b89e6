#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and runs each on its seed
# corpus for a while; see fuzz/README.md.
#
#   bash scripts/fuzz.sh [--seconds N] [--target NAME] [--jobs J] [--quick]
#
#   --seconds N   how long each target runs (default 10; a long run: --seconds 600)
#   --target NAME run only this target (default: every directory of fuzz/corpus)
#   --jobs J      build with J jobs and fuzz J targets at a time (default 1)
#   --quick       build at -O0 (half the build time, fewer executions per second): the test
#                 suite's short run; without it the targets are built at -O1
#
# New interesting inputs go to build/fuzz/fuzz/scratch/run/<target> (kept between runs, seeded
# from fuzz/corpus/<target>), crash files to build/fuzz/fuzz/scratch/artifacts/<target>/, logs
# to build/fuzz/fuzz/scratch/logs/<target>.log; fuzz/corpus is only read. Prints one line per
# target. Exit status: 0 when no target found anything, 1 when one found a crash, leak, timeout
# or out-of-memory (its line names the input that triggers it), 2 on a usage or build error.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
only=""
jobs=1
optimise="-O1 -g1"
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --target) only=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --quick) optimise="-O0 -g1"; shift ;;
    -h|--help) usage ;;
    *) echo "fuzz: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --seconds must be a positive integer" >&2; exit 2; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: --jobs must be a positive integer" >&2; exit 2; }

targets=()
for dir in fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
if [ -n "$only" ]; then
  [ -d "fuzz/corpus/$only" ] || { echo "fuzz: no target '$only' (targets: ${targets[*]})" >&2; exit 2; }
  targets=("$only")
fi

bash scripts/install-deps.sh
echo "== build (preset fuzz, $optimise, $jobs job(s))"
cmake --preset fuzz -DCMAKE_CXX_FLAGS_DEBUG="$optimise" >/dev/null
if ! cmake --build build/fuzz -j "$jobs" --target reka_fuzzers >build/fuzz/fuzz-build.log 2>&1; then
  tail -40 build/fuzz/fuzz-build.log >&2
  echo "fuzz: build failed (build/fuzz/fuzz-build.log)" >&2
  exit 2
fi

scratch=build/fuzz/fuzz/scratch
mkdir -p "$scratch/logs"
# UBSan reports abort (-fno-sanitize-recover=all), with a stack for the log.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Runs one target; its summary line goes to $scratch/logs/<target>.result.
run_target() {
  local t=$1
  local corpus=$scratch/run/$t artifacts=$scratch/artifacts/$t log=$scratch/logs/$t.log
  mkdir -p "$corpus" "$artifacts"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  local rc=0
  build/fuzz/fuzz/"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
    -print_final_stats=1 -artifact_prefix="$artifacts"/ "$corpus" >"$log" 2>&1 || rc=$?
  local execs rate result
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then  # killed before the final stats: the last status line
    execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  fi
  if [ "$rc" -eq 0 ]; then
    result="ok"
  else
    local kind input
    kind=$(grep -o -m1 -E 'ERROR: (libFuzzer: [a-z -]+|AddressSanitizer: [a-z-]+|LeakSanitizer: [a-z ]+)|runtime error: .*|deadly signal' "$log" || true)
    input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    result="FAILED (${kind:-exit status $rc}): ${input:-no input saved} (log: $log)"
  fi
  printf '%-28s %12s execs %9s/s  corpus %5s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
    "$(find "$corpus" -type f | wc -l)" "$result" >"$scratch/logs/$t.result"
}

echo "== fuzzing ${#targets[@]} target(s) for ${seconds} s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

failed=0
for t in "${targets[@]}"; do
  cat "$scratch/logs/$t.result"
  grep -q ' FAILED ' "$scratch/logs/$t.result" && failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: a target found a failing input (reproduce: build/fuzz/fuzz/<target> <input>)" >&2
  exit 1
fi
echo "fuzz: no failures"
