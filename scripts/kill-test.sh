#!/usr/bin/env bash
# Proof under faults: runs a NEXMark query with checkpoints and the exactly-once file sink,
# SIGKILLs it at random moments (every third kill waits for a checkpoint to be in progress),
# restarts it with the same command each time until it finishes, and compares the committed
# output with a fault-free run: zero rows lost, zero rows duplicated.
#
#   scripts/kill-test.sh --query q5 [--kills 100] [--events N] [--rate R] [--parallelism P]
#                        [--checkpoint-interval 100ms] [--reka PATH] [--workdir DIR] [--seed S]
#                        [--bad-lines B] [--kafka [--kafka-output] [--partitions N]]
#                        [--state-backend heap|rocksdb] [--rescale "P1 P2 …"]
#
# --rescale "P1 P2 …": the runs under faults take their parallelism from this list in turn (the
# first run P1, the run after the first kill P2, …, round again), so that every restart restores
# the last checkpoint at another parallelism (the reference runs at --parallelism).
#
# --state-backend rocksdb: the faulty runs keep their keyed state in RocksDB (the reference run
# uses the heap), so the test also shows that both backends give the same committed output.
#
# --bad-lines B: the events are written to a file with B malformed lines spread through it, and
# read from there (--input) with --dead-letter: the dead letters after the kills must equal the
# fault-free run's too (every bad line once), and so must the final bad_records count.
#
# --kafka: the events are written into a topic of librdkafka's mock cluster (reka-kafka-mock,
# next to the reka binary, on 127.0.0.1) and read from there (--input kafka://…), with
# --partitions N (default 16) partitions. --kafka-output: the rows go to a Kafka topic too,
# exactly-once (transactions), and are read back with kcat; the mock shows aborted transactions
# to every reader (docs/connectors/kafka.md), so then no row may be lost, and the rows of aborted
# transactions are reported as extra rows instead of failing the test.
#
# Exit status: 0 when the outputs are identical and at least one kill landed, 1 otherwise.
set -euo pipefail

query=""
kills=10
events=""
rate=1000000
parallelism=1
interval=100ms
reka=""
workdir=""
seed=$RANDOM
max_delay=""
bad_lines=0
kafka=0
kafka_output=0
partitions=16
state_backend=heap
rescale=""

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --query) query=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --parallelism) parallelism=$2; shift 2 ;;
    --checkpoint-interval) interval=$2; shift 2 ;;
    --reka) reka=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --max-delay) max_delay=$2; shift 2 ;;
    --bad-lines) bad_lines=$2; shift 2 ;;
    --kafka) kafka=1; shift ;;
    --kafka-output) kafka=1; kafka_output=1; shift ;;
    --partitions) partitions=$2; shift 2 ;;
    --state-backend) state_backend=$2; shift 2 ;;
    --rescale) rescale=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "kill-test: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$query" ] || { echo "kill-test: --query is required (q5, q7, q18, q10, ...)" >&2; exit 2; }
if [ -z "$reka" ]; then
  for candidate in build/release/cli/reka build/debug/cli/reka; do
    if [ -x "$candidate" ]; then reka=$candidate; break; fi
  done
fi
[ -x "$reka" ] || { echo "kill-test: no reka binary (build first or pass --reka PATH)" >&2; exit 2; }
if [ -z "$events" ]; then
  case "$query" in
    q18|q10) events=3000000 ;;
    *) events=20000000 ;;
  esac
fi
[ -n "$workdir" ] || workdir=$(mktemp -d /tmp/reka-kill-test.XXXXXX)
mkdir -p "$workdir"
RANDOM=$seed

common=(nexmark run --query "$query" --no-progress)
read -r -a rescale_list <<< "$rescale"
for p in "${rescale_list[@]}"; do
  [[ "$p" =~ ^[1-9][0-9]*$ ]] || { echo "kill-test: --rescale takes parallelisms (positive integers), got '$p'" >&2; exit 2; }
done
mock_pid=""
cleanup() { if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
if [ "$kafka" = 1 ]; then
  mock="$(dirname "$reka")/reka-kafka-mock"
  [ -x "$mock" ] || { echo "kill-test: no $mock (build the reka_kafka_mock target)" >&2; exit 2; }
  if [ "$kafka_output" = 1 ] && ! command -v kcat > /dev/null; then echo "kill-test: --kafka-output needs kcat" >&2; exit 2; fi
  rm -f "$workdir/bootstrap"
  "$mock" --topic "events:$partitions" --topic out-ref:4 --topic out-faulty:4 --bootstrap-file "$workdir/bootstrap" > /dev/null &
  mock_pid=$!
  for _ in $(seq 100); do [ -s "$workdir/bootstrap" ] && break; sleep 0.1; done
  [ -s "$workdir/bootstrap" ] || { echo "kill-test: the mock cluster did not start" >&2; exit 1; }
  bootstrap=$(cat "$workdir/bootstrap")
  "$reka" nexmark generate --events "$events" --rate "$rate" --seed "$seed" --output "kafka://$bootstrap/events" \
      --partitions "$partitions" 2> "$workdir/generate.log" || { cat "$workdir/generate.log" >&2; exit 1; }
  common+=(--input "kafka://$bootstrap/events")
elif [ "$bad_lines" -gt 0 ]; then
  # An event file with bad lines spread evenly through it (each kind of mistake in turn).
  "$reka" nexmark generate --events "$events" --rate "$rate" --seed "$seed" --output "$workdir/input.clean" 2>/dev/null
  awk -v n="$events" -v b="$bad_lines" 'BEGIN { every = int(n / (b + 1)); if (every < 1) every = 1 }
    { print }
    NR % every == 0 && made < b {
      k = made % 4; made++
      if (k == 0) print "not json " made
      else if (k == 1) print "{\"event_type\":2,\"bid\":{\"auction\":1,\"bidder\":2,\"price\":3,\"channel\":\"c\",\"url\":\"u\",\"dateTime\":9223372036854775807,\"extra\":\"" made "\"}}"
      else if (k == 2) print "{\"event_type\":7,\"n\":" made "}"
      else print "{\"event_type\":2,\"bid\":{\"auction\":1,\"bidder\":2,\"price\":9223372036854775807,\"channel\":\"c\",\"url\":\"u\",\"dateTime\":1,\"extra\":\"" made "\"}}"
    }' "$workdir/input.clean" > "$workdir/input.jsonl"
  common+=(--input "$workdir/input.jsonl")
else
  common+=(--events "$events" --rate "$rate")
fi
dead_letters() { [ "$bad_lines" -gt 0 ] && echo "--dead-letter $workdir/$1.dead --report $workdir/$1.report"; }

echo "kill-test: $query, $events events at R=$rate, P=$parallelism${rescale:+ (under faults: $rescale in turn)}, checkpoints every $interval, $kills kills, seed $seed, in $workdir"

# 1. The fault-free reference.
rm -rf "$workdir/ref"
start=$(date +%s.%N)
rm -f "$workdir/ref.dead" "$workdir/faulty.dead"
# shellcheck disable=SC2046
output_of() {  # where run $1 (ref or out) writes its rows
  if [ "$kafka_output" = 1 ]; then
    local topic=out-faulty
    [ "$1" = ref ] && topic=out-ref
    echo "--output kafka://$bootstrap/$topic"
  else
    echo "--output-dir $workdir/$1"
  fi
}
# shellcheck disable=SC2046
"$reka" "${common[@]}" --parallelism "$parallelism" $(output_of ref) $(dead_letters ref) > "$workdir/ref.log" 2>&1 || {
  echo "kill-test: the fault-free run failed:" >&2; cat "$workdir/ref.log" >&2; exit 1; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
ref_seconds=$(calc "$(date +%s.%N) - $start")
# Kills come between one checkpoint interval after a start (so that runs make progress) and
# that plus twice the fault-free time per kill (so that they spread over the whole run).
interval_s=$(awk -v v="$interval" 'BEGIN { n = v + 0; if (v ~ /ms$/) n /= 1000; else if (v ~ /m$/ && v !~ /s$/) n *= 60; printf "%.3f", n }')
# A job faster than that (a release build on a small test) is killed within the first 80 % of
# its fault-free time instead, so that at least the first run cannot finish before its kill.
min_delay=$(awk "BEGIN { d = $interval_s + 0.05; if (d > 0.4 * $ref_seconds) d = 0.4 * $ref_seconds; printf \"%.6f\", d }")
if [ -z "$max_delay" ]; then
  max_delay=$(awk "BEGIN { d = $min_delay + 2 * $ref_seconds / $kills; if (d > $min_delay + 2) d = $min_delay + 2;
                           if (d > 0.8 * $ref_seconds) d = 0.8 * $ref_seconds; if (d < $min_delay) d = $min_delay; print d }")
fi
echo "kill-test: fault-free run took ${ref_seconds}s; kills come ${min_delay}–${max_delay}s after each start"

# 2. The run under faults: same command, killed and restarted until it finishes.
rm -rf "$workdir/out" "$workdir/state"
delivered=0
during_checkpoint=0
attempts=0
random_delay() { calc "$min_delay + ($RANDOM / 32767) * ($max_delay - $min_delay)"; }
while :; do
  attempts=$((attempts + 1))
  run_parallelism=$parallelism
  if [ ${#rescale_list[@]} -gt 0 ]; then run_parallelism=${rescale_list[$(( (attempts - 1) % ${#rescale_list[@]} ))]}; fi
  echo "== run $attempts at parallelism $run_parallelism" >> "$workdir/faulty.log"
  # shellcheck disable=SC2046
  "$reka" "${common[@]}" --parallelism "$run_parallelism" $(output_of out) --state-dir "$workdir/state" --state-backend "$state_backend" \
      --rocksdb-localdir "$workdir/rocksdb" --checkpoint-interval "$interval" $(dead_letters faulty) >> "$workdir/faulty.log" 2>&1 &
  pid=$!
  if [ "$delivered" -lt "$kills" ]; then
    deadline=$(calc "$(date +%s.%N) + $(random_delay)")
    wait_for_checkpoint=$(( (delivered + 1) % 3 == 0 ))
    while kill -0 "$pid" 2>/dev/null; do
      now=$(date +%s.%N)
      if [ "$wait_for_checkpoint" = 1 ]; then
        # A checkpoint is being written: its directory exists, its manifest does not yet, and
        # it is newer than every complete one (older directories without a manifest are
        # retired checkpoints whose files newer incremental chains still read).
        newest_complete=""
        for d in "$workdir"/state/checkpoints/chk-*; do
          [ -e "$d/MANIFEST" ] && newest_complete=$d
        done
        for d in "$workdir"/state/checkpoints/chk-*; do
          if [ -d "$d" ] && [ ! -e "$d/MANIFEST" ] && [[ "$d" > "$newest_complete" ]]; then
            kill -9 "$pid" 2>/dev/null && { during_checkpoint=$((during_checkpoint + 1)); break 2; }
          fi
        done
      fi
      if awk "BEGIN { exit !($now >= $deadline) }"; then
        kill -9 "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.005
    done
  fi
  set +e
  wait "$pid"
  rc=$?
  set -e
  if [ "$rc" = 137 ]; then
    delivered=$((delivered + 1))
    continue
  fi
  if [ "$rc" != 0 ]; then
    echo "kill-test: run $attempts exited with status $rc:" >&2
    tail -20 "$workdir/faulty.log" >&2
    exit 1
  fi
  break
done
echo "kill-test: $delivered kills delivered ($during_checkpoint during a checkpoint) over $attempts runs"

# 3. Compare the committed rows (visible part files only) as multisets.
committed() { find "$1" -name 'part-*.jsonl' -type f -print0 | sort -z | xargs -0 -r cat | LC_ALL=C sort; }
if [ "$kafka_output" = 1 ]; then
  topic_rows() { timeout 120 kcat -C -b "$bootstrap" -t "$1" -e -q -f '%s\n' | LC_ALL=C sort; }
  topic_rows out-ref > "$workdir/ref.sorted"
  topic_rows out-faulty > "$workdir/out.sorted"
  mkdir -p "$workdir/out"
else
  committed "$workdir/ref" > "$workdir/ref.sorted"
  committed "$workdir/out" > "$workdir/out.sorted"
fi
lost=$(LC_ALL=C comm -23 "$workdir/ref.sorted" "$workdir/out.sorted" | wc -l)
duplicated=$(LC_ALL=C comm -13 "$workdir/ref.sorted" "$workdir/out.sorted" | wc -l)
rows=$(wc -l < "$workdir/ref.sorted")
staged=$(find "$workdir/out" -name '.*inprogress' -type f | wc -l)
echo "kill-test: reference $rows rows; lost $lost; duplicated or extra $duplicated; in-progress files left $staged"
if [ "$rows" = 0 ]; then echo "kill-test: FAILED: the reference has no rows" >&2; exit 1; fi
if [ "$kafka_output" = 1 ] && [ "$lost" = 0 ] && [ "$duplicated" != 0 ]; then
  echo "kill-test: the $duplicated extra rows are those of transactions the restarts aborted, which the mock cluster shows to every reader"
  duplicated=0
fi
if [ "$lost" != 0 ] || [ "$duplicated" != 0 ]; then echo "kill-test: FAILED (outputs kept in $workdir)" >&2; exit 1; fi
if [ "$delivered" = 0 ]; then echo "kill-test: FAILED: no kill landed before the job finished" >&2; exit 1; fi
if [ "$bad_lines" -gt 0 ]; then
  LC_ALL=C sort "$workdir/ref.dead" > "$workdir/ref.dead.sorted"
  LC_ALL=C sort "$workdir/faulty.dead" > "$workdir/faulty.dead.sorted"
  dead_lost=$(LC_ALL=C comm -23 "$workdir/ref.dead.sorted" "$workdir/faulty.dead.sorted" | wc -l)
  dead_extra=$(LC_ALL=C comm -13 "$workdir/ref.dead.sorted" "$workdir/faulty.dead.sorted" | wc -l)
  ref_bad=$(grep -o '"bad_records":[0-9]*' "$workdir/ref.report" | cut -d: -f2)
  faulty_bad=$(grep -o '"bad_records":[0-9]*' "$workdir/faulty.report" | cut -d: -f2)
  echo "kill-test: dead letters: reference $(wc -l < "$workdir/ref.dead.sorted") (bad_records $ref_bad); lost $dead_lost; duplicated or extra $dead_extra; final bad_records $faulty_bad"
  if [ "$(wc -l < "$workdir/ref.dead.sorted")" != "$bad_lines" ] || [ "$dead_lost" != 0 ] || [ "$dead_extra" != 0 ] ||
     [ "$ref_bad" != "$bad_lines" ] || [ "$faulty_bad" != "$bad_lines" ]; then
    echo "kill-test: FAILED: dead letters differ (kept in $workdir)" >&2; exit 1
  fi
fi
if [ "$kafka_output" = 1 ]; then
  echo "kill-test: PASSED: every row of the fault-free run was committed (see above for the aborted transactions' rows)"
else
  echo "kill-test: PASSED: committed output identical to the fault-free run"
fi
