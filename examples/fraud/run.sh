#!/usr/bin/env bash
# The fraud detector end to end: generate card transactions with planted frauds, run the JSON
# rules over them with `reka cep run`, score the alerts (precision and recall), then run it live
# (following the event file) and change the rules while it runs, timing how long a change takes
# to be in force. Usage: examples/fraud/run.sh [BUILD_DIR] [EVENTS] [CARDS]
# (default build/release, 1000000 events, 10000 cards). Needs `reka` and `fraud_gen` built:
#   cmake --build --preset release --target reka_cli fraud_gen
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build/release}
events=${2:-1000000}
cards=${3:-10000}
reka=$build/cli/reka
gen=$build/examples/fraud/fraud_gen
for b in "$reka" "$gen"; do
  [[ -x $b ]] || { echo "run.sh: $b is not built (cmake --build --preset release --target reka_cli fraud_gen)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/reka-fraud.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== generating $events transactions on $cards cards"
"$gen" generate --cards "$cards" --events "$events" --seed 1 --out "$work/events.jsonl" --truth "$work/truth.jsonl"

echo "== reka cep run (all rules, the whole file, parallelism 2)"
start=$(date +%s.%N)
"$reka" cep run --rules "$here/rules.json" --input "$work/events.jsonl" --key card --time ts \
  --output "$work/alerts.jsonl" --parallelism 2 --rest-port 0 2> "$work/run.log"
end=$(date +%s.%N)
grep -E "rows read|alerts written" "$work/run.log" || true
awk -v n="$events" -v s="$start" -v e="$end" 'BEGIN { printf "wall %.2f s: %.0f events/s\n", e - s, n / (e - s) }'
"$gen" score --alerts "$work/alerts.jsonl" --truth "$work/truth.jsonl"

echo "== live: following the file, rules changed while it runs"
head -c 0 /dev/null > "$work/live.jsonl"
cp "$here/rules.json" "$work/live-rules.json"
# Start without the impossible-travel rule; it is added while the job runs.
python3 - "$here/rules.json" "$work/live-rules.json" <<'EOF'
import json, sys
rules = [r for r in json.load(open(sys.argv[1])) if r["id"] != "impossible-travel"]
json.dump(rules, open(sys.argv[2], "w"), indent=1)
EOF
"$reka" cep run --rules "$work/live-rules.json" --input "$work/live.jsonl" --follow --key card --time ts \
  --output "$work/live-alerts.jsonl" --parallelism 2 --rest-port 0 2> "$work/live.log" &
pid=$!
half=$((events / 2))
head -n "$half" "$work/events.jsonl" >> "$work/live.jsonl"
sleep 3
for i in 1 2 3; do
  # Version i+1 of the rule set: impossible-travel added (i = 1), then its speed changed.
  python3 - "$here/rules.json" "$work/live-rules.json.tmp" "$i" <<'EOF'
import json, sys
rules = json.load(open(sys.argv[1]))
for r in rules:
    if r["id"] == "impossible-travel":
        r["version"] = int(sys.argv[3])
        r["pattern"][1]["where"] = r["pattern"][1]["where"].replace("> 900", "> %d" % (900 - int(sys.argv[3])))
json.dump(rules, open(sys.argv[2], "w"), indent=1)
EOF
  changed=$(date +%s%3N)
  mv "$work/live-rules.json.tmp" "$work/live-rules.json"
  for _ in $(seq 1 100); do
    line=$(grep "rule installed rule=impossible-travel version=$i " "$work/live.log" || true)
    [[ -n $line ]] && break
    sleep 0.05
  done
  if [[ -n $line ]]; then
    installed=$(date -d "$(echo "$line" | awk '{print $1}')" +%s%3N)
    echo "rule change $i: in force $((installed - changed)) ms after the file was replaced"
  else
    echo "rule change $i: not in force after 5 s" >&2
  fi
  sleep 1
done
tail -n +"$((half + 1))" "$work/events.jsonl" >> "$work/live.jsonl"
sleep 5
kill -TERM "$pid"
wait "$pid" || true
echo "live run: $(grep -c '"rule":"impossible-travel"' "$work/live-alerts.jsonl" || true) impossible-travel alerts (versions: $(grep -o '"rule":"impossible-travel","version":[0-9]*' "$work/live-alerts.jsonl" | sort | uniq -c | awk '{print $1 "x v" substr($2, length($2))}' | tr '\n' ' '))"
