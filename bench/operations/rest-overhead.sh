#!/usr/bin/env bash
# What the REST server and a Prometheus scrape every 100 ms cost a running job: q1 and q5 run
# with the REST API off (--rest-port 0) and on (scraped by a keep-alive client every 100 ms),
# in alternating pairs; reports events per CPU-second and per wall second of each run and the
# median ratio on/off. The scraper is a separate process: the job's CPU time (what the ratio
# uses) includes the server's threads, not the scraper's.
# Usage: bench/operations/rest-overhead.sh [--reka build/release/cli/reka] [--pairs 9]
set -euo pipefail
reka=build/release/cli/reka
pairs=9
while [ $# -gt 0 ]; do
  case "$1" in
    --reka) reka=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_RUNTIME_DIR=$work/runtime
mkdir -m 700 "$XDG_RUNTIME_DIR"

scraper() {  # scrapes /metrics of the job that registers in $XDG_RUNTIME_DIR until killed
  /usr/bin/python3 - "$XDG_RUNTIME_DIR" "$work/scrapes" <<'PY'
import glob, http.client, json, sys, time
entries = []
while not entries:
    entries = glob.glob(sys.argv[1] + "/reka/*.json")
    time.sleep(0.01)
time.sleep(0.05)
e = json.load(open(entries[0]))
c = http.client.HTTPConnection("127.0.0.1", e["port"], timeout=5)
n = 0
try:
    while True:
        c.request("GET", "/metrics"); c.getresponse().read(); n += 1
        open(sys.argv[2], "w").write(str(n))
        time.sleep(0.1)
except Exception:
    pass
PY
}

run() {  # run QUERY EVENTS on|off → "events_per_cpu_s events_per_s scrapes"
  local q=$1 events=$2 mode=$3 report=$work/report.json
  rm -rf "$XDG_RUNTIME_DIR"/reka "$work/scrapes"
  local sp=""
  if [ "$mode" = on ]; then
    scraper & sp=$!
    "$reka" nexmark run --query "$q" --events "$events" --no-progress --report "$report" >/dev/null 2>&1
    kill "$sp" 2>/dev/null || true; wait "$sp" 2>/dev/null || true
  else
    "$reka" nexmark run --query "$q" --events "$events" --no-progress --rest-port 0 --report "$report" >/dev/null 2>&1
  fi
  local scrapes
  scrapes=$(cat "$work/scrapes" 2>/dev/null || echo 0)
  /usr/bin/python3 -c "import json; r=json.load(open('$report')); print(r['events_per_cpu_s'], r['events_per_s'], $scrapes)"
}

for spec in q1:200000000 q5:50000000; do
  q=${spec%%:*}; events=${spec#*:}
  ratios_cpu=(); ratios_wall=()
  for i in $(seq 1 "$pairs"); do
    # Alternate which goes first, so that drift in the machine's speed hits both alike.
    if [ $((i % 2)) -eq 1 ]; then off=$(run "$q" "$events" off); on=$(run "$q" "$events" on)
    else on=$(run "$q" "$events" on); off=$(run "$q" "$events" off); fi
    read -r off_cpu off_wall _ <<<"$off"
    read -r on_cpu on_wall scrapes <<<"$on"
    rc=$(/usr/bin/python3 -c "print(f'{$on_cpu/$off_cpu:.3f}')")
    rw=$(/usr/bin/python3 -c "print(f'{$on_wall/$off_wall:.3f}')")
    ratios_cpu+=("$rc"); ratios_wall+=("$rw")
    printf '%s pair %d: off %.2f M ev/CPU-s %.2f M ev/s | on %.2f M ev/CPU-s %.2f M ev/s (%s scrapes) | on/off %s per CPU-s, %s per s\n' \
      "$q" "$i" "$(echo "$off_cpu/1000000" | bc -l)" "$(echo "$off_wall/1000000" | bc -l)" \
      "$(echo "$on_cpu/1000000" | bc -l)" "$(echo "$on_wall/1000000" | bc -l)" "$scrapes" "$rc" "$rw"
  done
  /usr/bin/python3 -c "
import statistics,sys
c=[float(x) for x in '${ratios_cpu[*]}'.split()]; w=[float(x) for x in '${ratios_wall[*]}'.split()]
print('$q: median on/off %.3f per CPU-s (min %.3f, max %.3f), %.3f per wall s (min %.3f, max %.3f), %d pairs' % (statistics.median(c), min(c), max(c), statistics.median(w), min(w), max(w), len(c)))"
done
