#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs Reka's main job: a NEXMark query
# on the in-process generator, using every core, with a live progress line and a summary.
# Extra arguments are passed to `reka nexmark run` (e.g. --query q17 --events 20000000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target reka_cli
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--query q1 --events 100000000)
fi
exec ./build/release/cli/reka nexmark run --parallelism "$(nproc)" "${args[@]}"
