#!/usr/bin/env bash
# Installs what is missing, builds the release preset and runs Reka's main job: a SQL job
# (examples/sql/main.sql) over the built-in NEXMark generator, using every core, with a live
# progress line and a summary; Ctrl-C stops it with a savepoint.
# Extra arguments are passed to `reka run` (e.g. another .sql file, or --parallelism 1);
# `reka nexmark run` runs the C++ NEXMark queries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target reka_cli
args=("$@")
if [ ${#args[@]} -eq 0 ] || [[ "${args[0]}" == --* ]]; then
  args=(examples/sql/main.sql "${args[@]}")
fi
exec ./build/release/cli/reka run --parallelism "$(nproc)" "${args[@]}"
