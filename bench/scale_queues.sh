#!/usr/bin/env bash
# Many queues on one Redis (issue 16, sizing (b)): what P processes cost Redis per queue when
# nobody joins — the admission ticker and the dashboard's sampling. Part of ./dev bench --scale
# (bench/scale.sh runs it last and includes its report); alone:
#   bench/scale_queues.sh      (needs build/anteroom, redis-server, curl)
# Parameters (environment):
#   P=6            anteroom processes (Redis-only mode), --tick-ms 100 (the default)
#   QUEUES=1000    queues, each admit_per_s 1 with nobody waiting
#   MEASURE_SECS=15  each configuration is measured this long once every queue is ticked
# Three configurations, each on a fresh redis-server and fresh processes:
#   lease      the default: one process ticks a queue at a time (the tick lease)
#   every      --tick-every-queue: every process ticks every queue (as before the lease)
#   lease,nodash  the default with --dashboard-sample-ms 0 (the dashboard's share)
# Figures per configuration: tick script calls/s (Redis INFO commandstats: EVALSHA calls of the
# tick script's SHA are not told apart, so all EVALSHA calls; nothing else runs scripts here),
# redis-server CPU ms/s, anteroom CPU ms/s (all P), and Redis µs per EVALSHA (commandstats).
# Writes the markdown section to SCALE_QUEUES_OUT (default bench/results/scale-queues.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_BUILD_DIR:-$ROOT/build}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

P=${P:-6}
QUEUES=${QUEUES:-1000}
MEASURE_SECS=${MEASURE_SECS:-15}
OUT=${SCALE_QUEUES_OUT:-$ROOT/bench/results/scale-queues.md}
[ -x "$BIN/anteroom" ] || die "$BIN/anteroom is missing (./dev bench --scale builds it)"
TMP=$(mktemp -d /tmp/bench-queues.XXXXXX)
trap 'cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# cmdstat_evalsha:calls=N,usec=U,... → "N U"
evalsha_stats() {
  redis-cli -p "$R_PORT" info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2/p'
}

# run_config TAG ARGS... → sets CALLS_S REDIS_MS ANT_MS US_PER_CALL HOLDERS
run_config() {
  local tag=$1 i
  shift
  start_redis R
  APIDS=()
  URLS=()
  for i in $(seq "$P"); do
    start_anteroom "S$i" --redis "redis://127.0.0.1:$R_PORT" --log-level warn --max-queues $((QUEUES + 10)) "$@"
    local u="S${i}_URL" p="S${i}_PID"
    URLS+=("${!u}")
    APIDS+=("${!p}")
  done
  log "$tag: creating $QUEUES queues"
  seq -f "q%05g" "$QUEUES" | xargs -P 4 -I{} curl -sf -o /dev/null -X PUT \
    -H "Authorization: Bearer $ADMIN" "${URLS[0]}/v1/queues/{}" \
    -d '{"admit_per_s":1,"max_active":1000}' || die "creating the queues failed"
  [ "$(redis-cli -p "$R_PORT" scard aq:queues)" = "$QUEUES" ] || die "not $QUEUES queues"
  # The tickers are going round every queue: their calls (anteroom_ticker_calls_total, both
  # outcomes, all processes) reach 3 per queue.
  local deadline=$(($(date +%s) + 60)) n u
  for _ in $(seq 600); do
    n=0
    for u in "${URLS[@]}"; do
      n=$((n + $(curl -sf "$u/metrics" | awk '$1 ~ /^anteroom_ticker_calls_total/ {s += $2} END {printf "%.0f", s}')))
    done
    [ "$n" -ge $((3 * QUEUES)) ] && break
    [ "$(date +%s)" -lt "$deadline" ] || die "$tag: the tickers made only $n calls within 60 s"
    sleep 0.2
  done
  local c0 c1 x0 x1 t0 t1 e0 e1 u0 u1
  read -r e0 u0 <<<"$(evalsha_stats)"
  c0=$(redis_cpu_ms "$R_PORT") x0=$(cpu_ms "${APIDS[@]}") t0=$(ms_now)
  sleep "$MEASURE_SECS"  # a duration under measurement, not a wait for a condition
  read -r e1 u1 <<<"$(evalsha_stats)"
  c1=$(redis_cpu_ms "$R_PORT") x1=$(cpu_ms "${APIDS[@]}") t1=$(ms_now)
  CALLS_S=$(awk -v c=$((e1 - e0)) -v d=$((t1 - t0)) 'BEGIN {printf "%.0f", c * 1000 / d}')
  US_PER_CALL=$(awk -v u=$((u1 - u0)) -v c=$((e1 - e0)) 'BEGIN {printf "%.1f", c ? u / c : 0}')
  REDIS_MS=$(awk -v c=$((c1 - c0)) -v d=$((t1 - t0)) 'BEGIN {printf "%.0f", c * 1000 / d}')
  ANT_MS=$(awk -v c=$((x1 - x0)) -v d=$((t1 - t0)) 'BEGIN {printf "%.0f", c * 1000 / d}')
  # Lease holders: how many queues each node ticks.
  HOLDERS=$(redis-cli -p "$R_PORT" --scan --pattern 'aq:{q*}:tick' | xargs -r -n 500 redis-cli -p "$R_PORT" mget |
    sort | uniq -c | awk '{printf "%s%s %d", (NR > 1 ? ", " : ""), $2, $1}')
  [ -n "$HOLDERS" ] || HOLDERS="none (no lease)"
  log "  $tag: $CALLS_S EVALSHA/s ($US_PER_CALL µs each), redis-server $REDIS_MS ms/s, anteroom $ANT_MS ms/s; holders: $HOLDERS"
  stop_pids "${APIDS[@]}" "$R_PID"
}

START=$(date +%s)
LOAD_BEFORE=$(uptime)
log "queues: P=$P QUEUES=$QUEUES MEASURE_SECS=$MEASURE_SECS"
run_config lease
L=("$CALLS_S" "$US_PER_CALL" "$REDIS_MS" "$ANT_MS" "$HOLDERS")
run_config every --tick-every-queue
E=("$CALLS_S" "$US_PER_CALL" "$REDIS_MS" "$ANT_MS" "$HOLDERS")
run_config nodash --dashboard-sample-ms 0
N=("$CALLS_S" "$US_PER_CALL" "$REDIS_MS" "$ANT_MS" "$HOLDERS")
ELAPSED=$(($(date +%s) - START))
{
  echo "## Many queues: $QUEUES idle queues, $P processes, one redis-server"
  echo
  echo "- command: \`P=$P QUEUES=$QUEUES MEASURE_SECS=$MEASURE_SECS bench/scale_queues.sh\` (part of \`./dev bench --scale\`; ${ELAPSED} s)"
  echo "- load before: \`$(echo "$LOAD_BEFORE" | sed 's/^ *//')\`; after: \`$(uptime | sed 's/^ *//')\`"
  echo "- each queue: admit_per_s 1, nobody waiting; --tick-ms 100; each configuration on a fresh redis-server and fresh processes, measured for ${MEASURE_SECS} s once every queue had been ticked"
  echo
  echo "| | tick lease (default) | --tick-every-queue | lease, --dashboard-sample-ms 0 |"
  echo "|---|---|---|---|"
  echo "| script calls/s (EVALSHA) | ${L[0]} | ${E[0]} | ${N[0]} |"
  echo "| Redis µs per script call | ${L[1]} | ${E[1]} | ${N[1]} |"
  echo "| redis-server CPU (ms/s) | ${L[2]} | ${E[2]} | ${N[2]} |"
  echo "| anteroom CPU, all $P (ms/s) | ${L[3]} | ${E[3]} | ${N[3]} |"
  echo
  echo "- Lease holders (node: queues ticked), default: ${L[4]}."
  echo "- Script calls are every EVALSHA: the tick, and with the dashboard on, each process's sample of every queue (\`list_queues\`, one \`get_queue\` script per queue per second per process). The third column shows the ticks alone."
  echo "- Per queue, tick lease: $(awk -v c="${N[0]}" -v q="$QUEUES" 'BEGIN {printf "%.1f", c / q}') tick calls/s: an idle queue is ticked by its lease's holder once a third of the lease (1 s) and probed by each other process once a lease (3 s): 1 + ($P − 1)/3 = $(awk -v p="$P" 'BEGIN {printf "%.1f", 1 + (p - 1) / 3}') expected; a queue where someone waits is ticked 10 times a second by its holder. Without the lease (--tick-every-queue) every process ticks every queue 10 times a second ($((P * 10)) calls/s per queue asked: Redis saturates first)."
} >"$OUT"
log "wrote $OUT"
cat "$OUT"
