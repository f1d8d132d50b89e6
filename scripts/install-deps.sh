#!/usr/bin/env bash
# Installs Reka's build and test dependencies from Debian 12 packages. Idempotent: packages that
# are already installed are not touched, and nothing is downloaded outside Debian's archive.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libabsl-dev libxxhash-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libsimdjson-dev libmimalloc-dev libgtest-dev libgmock-dev libbenchmark-dev
  libre2-dev  # regular expressions (REGEXP_EXTRACT, Kafka topic patterns)
  librocksdb-dev  # the RocksDB state backend (state larger than memory)
  librdkafka-dev kcat  # the Kafka connector; its tests use librdkafka's mock cluster on 127.0.0.1
  libspdlog-dev libyaml-cpp-dev libcpp-httplib-dev  # logging, the configuration file, the REST server
  prometheus  # promtool checks the /metrics exposition in the tests
  chromium chromium-driver python3-selenium  # the dashboard's tests in headless Chromium
  clang libclang-rt-14-dev  # the `fuzz` preset: clang with libFuzzer (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
timeout 900 "${sudo_cmd[@]}" apt-get update -qq
timeout 1800 "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
