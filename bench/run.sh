#!/usr/bin/env bash
# Builds the release preset and runs the NEXMark benchmark table (engine vs hand-written loops).
# Arguments go to reka_nexmark_bench, e.g. --events 20000000 --parallelism 1 2
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target reka_nexmark_bench reka_window_bench reka_checkpoint_bench reka_sql_bench reka_cli
exec ./build/release/bench/reka_nexmark_bench "$@"
