#!/usr/bin/env bash
# Installs what is missing, builds with clang, AddressSanitizer + UndefinedBehaviorSanitizer and
# runs the whole test suite (every libFuzzer target included, for 5 s each on its seed corpus:
# the fuzz_* tests), then builds the runtime and connector tests with ThreadSanitizer and runs
# them: the modules that own threads (tasks, channels, the worker pool, timers and the checkpoint
# coordinator; connector reader threads and followed files). Operators, state, SQL and CEP run
# inside one task at a time. Long fuzz runs, with libFuzzer's full instrumentation: scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

echo "== debug (clang, ASan + UBSan): build and run all tests, the 5 s fuzz runs included"
cmake --preset debug >/dev/null
cmake --build --preset debug
# Three at a time on two cores: many tests wait on child processes, sockets and timers.
ctest --preset debug -j3 --timeout 300

echo "== tsan: runtime (tasks, channels, checkpoints, watermarks) and connector (split sources, files, formats) tests"
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target reka_runtime_tests reka_connectors_tests
# ThreadSanitizer needs a memory layout that high ASLR entropy can break; run without ASLR.
# (Not the Kafka tests: ThreadSanitizer's runtime crashes inside librdkafka's own threads, as
# seen with Debian's librdkafka 2.0.2, before any test code runs there.)
setarch "$(uname -m)" -R ctest --preset tsan -j2 --timeout 300 -L 'runtime|connectors'
