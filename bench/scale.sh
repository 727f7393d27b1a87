#!/usr/bin/env bash
# An on-sale's scale on one machine (issue 16; bench/README.md "Scale").
#   bench/scale.sh        (./dev bench --scale builds what it needs and runs this)
# Not part of the default ./dev bench. Parameters (environment; the issue's defaults):
#   P=6               anteroom processes on one redis-server and one kafka-mock (--redis --kafka)
#   WAITING=1000000   tickets in line before the streams open (the server's join script, EVALSHA)
#   STREAMS=100000    SSE streams held open (sse-load watch), spread over the processes, in
#                     sse-load processes of at most STREAMS_PER_LOADER (19000: the open-file limit)
#   ADMIT=1000        admissions per second, for ADMIT_SECS=60
#   CROWD=200000      the flash crowd: that many joins, wrk on every process at once (CROWD_CONNS=48
#                     connections in all, each wrk stops after CROWD/P), with the streams open,
#                     then again with none; each crowd stops after CROWD_MAX_SECS=120 at most
#   NEAR=100          "near the head" (the hub's near_position)
#   FILL_CHUNK=50000  the fill's rounds (each waits until Kafka's consumers re-published them)
#   DRAIN_S=60        the longest wait, after admission, for every admission to be on Pub/Sub
#   SETTLE_S=60       then the longest wait for the streams' final states
# Where the streams' tickets are in the line: the first HEAD tickets of the line all have a
# stream (HEAD = ADMIT × ADMIT_SECS × 1.1 + NEAR: the first NEAR positions hold streams during
# the whole admission), the other STREAMS − HEAD are spread evenly over the rest of the line.
# Writes bench/results/scale.md and scale-*.png next to it (SCALE_OUT to write elsewhere).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_BUILD_DIR:-$ROOT/build}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

P=${P:-6}
WAITING=${WAITING:-1000000}
STREAMS=${STREAMS:-100000}
STREAMS_PER_LOADER=${STREAMS_PER_LOADER:-19000}
ADMIT=${ADMIT:-1000}
ADMIT_SECS=${ADMIT_SECS:-60}
CROWD=${CROWD:-200000}
CROWD_CONNS=${CROWD_CONNS:-48}
CROWD_MAX_SECS=${CROWD_MAX_SECS:-120}
NEAR=${NEAR:-100}
SETTLE_S=${SETTLE_S:-60}
FILL_CHUNK=${FILL_CHUNK:-50000}
DRAIN_S=${DRAIN_S:-60}
OUT=${SCALE_OUT:-$ROOT/bench/results/scale.md}
OUTDIR=$(dirname "$OUT")

for b in anteroom sse-load kafka-mock; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing (./dev bench --scale builds it)"; done
for t in curl wrk redis-server redis-cli; do
  command -v "$t" >/dev/null || die "$t is missing (./dev bench installs it)"
done
[ "$STREAMS_PER_LOADER" -le 19000 ] || STREAMS_PER_LOADER=19000  # a few files for the rest
[ "$STREAMS" -lt "$WAITING" ] || die "STREAMS must be below WAITING"
TMP=$(mktemp -d /tmp/bench-scale.XXXXXX)
trap 'cleanup; [ -n "${SCALE_KEEP:-}" ] || rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

START=$(date +%s)
LOAD_BEFORE=$(uptime)
log "scale: P=$P WAITING=$WAITING STREAMS=$STREAMS ADMIT=$ADMIT/s×${ADMIT_SECS}s CROWD=$CROWD; scratch $TMP"
log "  load before: $LOAD_BEFORE"

# The sum over every process of a metric family (all its series), from /metrics.
metric_sum() {
  local u s=0 v
  for u in "${URLS[@]}"; do
    v=$(curl -sf -m 10 "$u/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f", s}')
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
per_s() { awk -v c="$1" -v d="$2" 'BEGIN {printf "%.0f", c * 1000 / d}'; }  # count, wall ms → /s
sum_rss_kb() { local s=0 p; for p in "${APIDS[@]}"; do s=$((s + $(rss_kb "$p"))); done; echo "$s"; }
per_rss_mb() { local p o=(); for p in "${APIDS[@]}"; do o+=("$(awk -v k="$(rss_kb "$p")" 'BEGIN {printf "%.0f", k / 1024}')"); done; echo "${o[*]}"; }
# The cumulative buckets of anteroom_admission_to_sse_ms summed over the processes: "le count".
hist_snapshot() {
  local u
  for u in "${URLS[@]}"; do curl -sf "$u/metrics"; done |
    awk -F'[" ]' '/^anteroom_admission_to_sse_ms_bucket\{le="/ {le = $2; c[le] += $NF}
      END {for (l in c) print (l == "+Inf" ? "inf" : l), c[l]}' | sort -g
}
# Quantile q of the delta of two hist_snapshot files (Prometheus histogram_quantile: linear
# within the bucket); prints "n p50 p99".
hist_delta() {
  join <(sort "$1") <(sort "$2") | sort -g | awk '
    {le[NR] = $1; d[NR] = $3 - $2; n = NR}
    function q(x,   r, i, pl, pc) { r = x * d[n]; pl = 0; pc = 0
      for (i = 1; i <= n; i++) { if (d[i] >= r) { if (le[i] == "inf") return ">" pl
          return pl + (le[i] - pl) * (d[i] > pc ? (r - pc) / (d[i] - pc) : 0) }
        pl = le[i]; pc = d[i] }
      return pl }
    END {p50 = q(0.5); p99 = q(0.99)
      printf "%.0f %s %s\n", d[n], p50 ~ />/ ? p50 : sprintf("%.1f", p50), p99 ~ />/ ? p99 : sprintf("%.1f", p99)}'
}
# Waits until the processes are idle: their hub and SSE counters stop moving for a second
# (events applied, positions and admissions sent), at most 60 s. Prints the seconds waited.
wait_idle() {
  local t0 prev="" cur same=0
  t0=$(ms_now)
  while [ $(($(ms_now) - t0)) -lt 60000 ]; do
    cur="$(metric_sum anteroom_hub_events_total) $(metric_sum anteroom_sse_positions_total) $(metric_sum anteroom_sse_admissions_total)"
    if [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; fi
    [ $same -ge 2 ] && { awk -v d=$(($(ms_now) - t0)) 'BEGIN {printf "%.1f", d / 1000}'; return; }
    prev=$cur
    sleep 0.5
  done
  echo "over 60 (not idle)"
  log "the processes did not become idle within 60 s" >&2
}

# --- servers: redis-server, kafka-mock, P anteroom processes (--redis --kafka) ----------------
start_redis R
start_kafka_mock
URLS=()
APIDS=()
for i in $(seq "$P"); do
  start_anteroom "S$i" --redis "redis://127.0.0.1:$R_PORT" --kafka "$BROKERS" --log-level warn
  u="S${i}_URL" p="S${i}_PID"
  URLS+=("${!u}")
  APIDS+=("${!p}")
done
Q=onsale
put_queue "${URLS[0]}" "$Q" '{"admit_per_s":0,"max_active":100000000,"abandon_after_s":604800,"session_ttl_s":604800}'
log "waiting for the Kafka consumer group to assign every partition"
for _ in $(seq 300); do
  [ "$(metric_sum anteroom_consumer_assigned_partitions)" -ge 6 ] && break
  sleep 0.2
done
[ "$(metric_sum anteroom_consumer_assigned_partitions)" -ge 6 ] || die "the consumer group did not assign kafka-mock's 6 partitions"
curl -sf -X POST "${URLS[0]}/v1/queues/$Q/tickets" >/dev/null  # the server loads its scripts
# Redis calls of 10 ms or more from here on (what blocks everyone: SLOWLOG), and the pipeline's
# trouble counters, for the report.
redis-cli -p "$R_PORT" config set slowlog-log-slower-than 10000 >/dev/null
redis-cli -p "$R_PORT" config set slowlog-max-len 100000 >/dev/null
redis-cli -p "$R_PORT" slowlog reset >/dev/null
SLOW_SINCE=$(date +%s)
health() {
  echo "$(metric_sum anteroom_hub_resyncs_total) $(metric_sum anteroom_pubsub_reconnects_total) $(metric_sum anteroom_consumer_rebalances_total)"
}
read -r H0_RESYNC H0_RECONN H0_REBAL < <(health)
compose_lua join
JSHA=$(lua_sha join)
[ "$(redis-cli -p "$R_PORT" script exists "$JSHA")" = 1 ] ||
  die "bench/lib.sh compose_lua no longer builds the server's join script"
KEYS=$(queue_keys "$Q")
M0=$(redis_mem "$R_PORT")
RSS0=$(sum_rss_kb)

# --- fill: the server's own join script (sse-load fill: EVALSHA, pipelined) -------------------
# The streams' tickets: the first HEAD joins, then every K-th join of the rest.
HEAD=$((ADMIT * ADMIT_SECS * 11 / 10 + NEAR))
HEAD_NOTE=""
if [ "$HEAD" -gt $((STREAMS * 2 / 3)) ]; then
  HEAD=$((STREAMS * 2 / 3))
  HEAD_NOTE="(STREAMS too few for the whole window: the first NEAR positions hold streams for the first ~$(((HEAD - NEAR) / ADMIT)) s of admission only)"
  log "  note: $HEAD_NOTE"
fi
REST=$((WAITING - HEAD))
K=$((REST / (STREAMS - HEAD)))
log "filling: $HEAD joins (each a stream's ticket), then $REST (every ${K}th a stream's ticket), in rounds of at most $FILL_CHUNK"
# Every event produced to Kafka has been consumed and re-published on Pub/Sub.
pipeline_caught_up() {
  [ "$(redis-cli -p "$R_PORT" xlen "aq:{$Q}:outbox")" = 0 ] &&
    [ "$(metric_sum anteroom_consumer_events_total)" -ge "$(metric_sum anteroom_relay_produced_total)" ]
}
# fill N KEEP_EVERY OUT: N joins in rounds of FILL_CHUNK, each round waiting (at most 120 s) until
# the pipeline has carried its events: kafka-mock keeps only the newest ~100k messages of a
# partition, so a consumer further behind would lose events (a mock's limit, not Kafka's).
fill() {
  local n=$1 every=$2 out=$3 done=0 m r=0
  : >"$out"
  while [ "$done" -lt "$n" ]; do
    m=$((n - done < FILL_CHUNK ? n - done : FILL_CHUNK))
    # (each round keeps every K-th of its own joins: K divides FILL_CHUNK or the spacing shifts
    # by less than K at a round's start, which is all "spread evenly" needs)
    "$BIN/sse-load" fill --redis "127.0.0.1:$R_PORT" --sha "$JSHA" --keys "$KEYS" --commit "" \
      --now "$(ms_now)" --n "$m" --draw-key 0 --keep-every "$every" --keep-out "$TMP/kept.txt" >"$TMP/fill.log" 2>&1 ||
      { cat "$TMP/fill.log" >&2; die "fill failed"; }
    cat "$TMP/kept.txt" >>"$out"
    done=$((done + m))
    r=$((r + 1))
    local t=$(($(ms_now) + 120000))
    until pipeline_caught_up; do
      [ "$(ms_now)" -lt "$t" ] || die "after fill round $r the pipeline did not carry its events within 120 s (consumed $(metric_sum anteroom_consumer_events_total) of $(metric_sum anteroom_relay_produced_total) produced)"
      sleep 0.5
    done
  done
}
t0=$(ms_now)
fill "$HEAD" 1 "$TMP/head.txt"
fill "$REST" "$K" "$TMP/far.txt"
t1=$(ms_now)
{ cat "$TMP/head.txt"; head -n $((STREAMS - HEAD)) "$TMP/far.txt"; } >"$TMP/tickets.txt"
[ "$(wc -l <"$TMP/tickets.txt")" = "$STREAMS" ] || die "the fill kept $(wc -l <"$TMP/tickets.txt") tickets, not $STREAMS"
NWAIT=$(redis-cli -p "$R_PORT" zcard "aq:{$Q}:wait")
FILL_S=$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", d / 1000}')
log "  filled: $NWAIT waiting in $FILL_S s"
[ "$NWAIT" -ge "$WAITING" ] || die "the fill made only $NWAIT tickets"
M1=$(redis_mem "$R_PORT")
OB=$(redis-cli -p "$R_PORT" memory usage "aq:{$Q}:outbox" samples 0)
BYTES_PER_TICKET=$(awk -v a="$M0" -v b="$M1" -v o="${OB:-0}" -v n="$NWAIT" 'BEGIN {printf "%.0f", (b - a - o) / n}')
MEM_LIVE=$(redis-cli -p "$R_PORT" memory usage "aq:{$Q}:live" samples 0 || echo 0)
MEM_LIVE=${MEM_LIVE:-0}
log "  Redis: $BYTES_PER_TICKET B per waiting ticket (outbox excluded; the live tickets' hash $((MEM_LIVE / NWAIT)) B)"
# The fill's events went outbox → relay → Kafka → consumer → Pub/Sub → every process, as real
# joins' would (round by round, above); the streams open once the processes are idle too.
IDLE_S=$(wait_idle)
log "  every event carried by the pipeline; processes idle after $IDLE_S s more"

# --- streams: sse-load watch processes, ≤ STREAMS_PER_LOADER each, each on every process -----
NL=$(((STREAMS + STREAMS_PER_LOADER - 1) / STREAMS_PER_LOADER))
[ "$STREAMS" -ge "$NL" ] || NL=$STREAMS
log "opening $STREAMS streams: $NL sse-load watch processes, each over all $P anteroom processes"
WURLS=()
for u in "${URLS[@]}"; do WURLS+=(--url "$u"); done
LPIDS=()
t0=$(ms_now)
for l in $(seq 0 $((NL - 1))); do
  "$BIN/sse-load" watch "${WURLS[@]}" --queue "$Q" --tickets "$TMP/tickets.txt" --stride "$NL" \
    --offset "$l" --near "$NEAR" --ticks "$TMP/ticks.txt" --ticks-out "$TMP/ticks-$l.txt" \
    --settle-timeout-s "$SETTLE_S" --timeout-s 600 >"$TMP/watch-$l.log" 2>"$TMP/watch-$l.err" &
  LPIDS+=("$!")
  PIDS+=("$!")
done
wait_line() {  # pattern: every watcher's log has a line starting with it (or one exited: die)
  local l
  for l in $(seq 0 $((NL - 1))); do
    until grep -q "^$1" "$TMP/watch-$l.log"; do
      kill -0 "${LPIDS[$l]}" 2>/dev/null || { cat "$TMP/watch-$l.err" >&2; die "sse-load watch $l exited"; }
      sleep 0.2
    done
  done
}
wait_line READY
t1=$(ms_now)
OPEN=$(metric_sum anteroom_sse_streams)
[ "$OPEN" = "$STREAMS" ] || die "the processes count $OPEN open streams, not $STREAMS"
OPEN_S=$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", d / 1000}')
RSS1=$(sum_rss_kb)
RSS_PER_STREAM=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$STREAMS" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')
RSS_STREAMS_MB=$(per_rss_mb)
POS_RANGE=$(sed -n 's/^READY .*positions=//p' "$TMP"/watch-*.log | awk -F'[.][.]' 'NR == 1 || $1 < lo {lo = $1} $2 > hi {hi = $2} END {print lo ".." hi}')
log "  $STREAMS streams open in $OPEN_S s (positions $POS_RANGE); anteroom RSS per process (MB): $RSS_STREAMS_MB"
IDLE_S=$(wait_idle)

# --- admission at ADMIT/s for ADMIT_SECS, every stream open ----------------------------------
# The server's events, as every process receives them (Pub/Sub), give each tick's time and seqs.
redis-cli -p "$R_PORT" --raw subscribe aq:events >"$TMP/events.txt" 2>&1 &
SUB_PID=$!
PIDS+=("$SUB_PID")
for _ in $(seq 100); do grep -q '^subscribe' "$TMP/events.txt" && break; sleep 0.05; done
grep -q '^subscribe' "$TMP/events.txt" || die "redis-cli subscribe did not start"
log "admission: $ADMIT/s for ${ADMIT_SECS}s"
a0=$(redis-cli -p "$R_PORT" zcard "aq:{$Q}:wait")
c0=$(redis_cpu_ms "$R_PORT")
x0=$(cpu_ms "${APIDS[@]}")
w0=$(cpu_ms "${LPIDS[@]}")
k0=$(metric_sum anteroom_relay_produced_total)
e0=$(metric_sum anteroom_consumer_events_total)
hist_snapshot >"$TMP/hist0.txt"
t0=$(ms_now)
put_queue "${URLS[0]}" "$Q" "{\"admit_per_s\":$ADMIT}"
sleep "$ADMIT_SECS"  # a duration under test, not a wait for a condition
put_queue "${URLS[0]}" "$Q" '{"admit_per_s":0}'
t1=$(ms_now)
c1=$(redis_cpu_ms "$R_PORT")
x1=$(cpu_ms "${APIDS[@]}")
w1=$(cpu_ms "${LPIDS[@]}")
k1=$(metric_sum anteroom_relay_produced_total)
e1=$(metric_sum anteroom_consumer_events_total)
# A tick may still be running: the line is final once its length is the same twice in a row;
# then the events are complete once every admission is on Pub/Sub (the pipeline may be behind:
# at most DRAIN_S more, then the figures are of the events seen, and the report says so).
admitted_seen() { grep -c '"type":"admitted"' "$TMP/events.txt" || true; }
prev=-1
for _ in $(seq 100); do
  a1=$(redis-cli -p "$R_PORT" zcard "aq:{$Q}:wait")
  [ "$a1" = "$prev" ] && break
  prev=$a1
  sleep 0.2
done
ADMITTED=$((a0 - a1))
t2=$(ms_now)
until [ "$(admitted_seen)" -ge "$ADMITTED" ] || [ $(($(ms_now) - t2)) -gt $((DRAIN_S * 1000)) ]; do sleep 0.2; done
SEEN=$(admitted_seen)
DRAIN_SECS=$(awk -v d=$(($(ms_now) - t2)) 'BEGIN {printf "%.1f", d / 1000}')
DRAIN_NOTE=""
if [ "$SEEN" -lt "$ADMITTED" ]; then
  DRAIN_NOTE="**The pipeline fell behind: $DRAIN_SECS s after admission stopped, Pub/Sub had carried $SEEN of the $ADMITTED admissions; the per-tick figures are of the ticks seen, the final-state check ran with the rest still on its way.**"
  log "  $DRAIN_NOTE"
fi
stop_pids "$SUB_PID"
ADMIT_RATE=$(per_s "$ADMITTED" $((t1 - t0)))
REDIS_CPU_ADMIT=$(per_s $((c1 - c0)) $((t1 - t0)))
ANT_CPU_ADMIT=$(per_s $((x1 - x0)) $((t1 - t0)))
LOADER_CPU_ADMIT=$(per_s $((w1 - w0)) $((t1 - t0)))
KAFKA_ADMIT=$(per_s $((k1 - k0)) $((t1 - t0)))
CONSUMED_ADMIT=$(per_s $((e1 - e0)) $((t1 - t0)))
# Ticks: runs of consecutive events with one `at`; "at first_seq last_seq admitted-so-far".
grep '^{' "$TMP/events.txt" |
  sed -n 's/.*"seq":\([0-9]*\),"type":"\([a-z_]*\)".*"at":\([0-9]*\),.*/\1 \2 \3/p' | sort -n |
  awk '{ if ($3 != at) { if (n) print at, first, last, cum; at = $3; first = $1; n = 0 }
         last = $1; if ($2 == "admitted") { n++; cum++ } }
       END { if (n) print at, first, last, cum }' >"$TMP/ticks.txt"
NTICKS=$(wc -l <"$TMP/ticks.txt")
log "  admitted $ADMITTED ($ADMIT_RATE/s) in $NTICKS ticks; CPU ms/s: redis-server $REDIS_CPU_ADMIT, anteroom (all $P) $ANT_CPU_ADMIT, sse-load $LOADER_CPU_ADMIT; Kafka $KAFKA_ADMIT events/s produced, $CONSUMED_ADMIT/s consumed (all seen on Pub/Sub $DRAIN_SECS s after)"

# --- every stream's final state, and per tick the delivery to the streams it moved -----------
log "checking every stream's final state against the store (at most ${SETTLE_S}s)"
t0=$(ms_now)
for p in "${LPIDS[@]}"; do kill -USR1 "$p"; done
wait_line CHECKED
WRONG=$(sed -n 's/^CHECKED .* wrong=\([0-9]*\).*/\1/p' "$TMP"/watch-*.log | awk '{s += $1} END {print s}')
SETTLE_MS=$(sed -n 's/^CHECKED .* settle_ms=\([0-9]*\).*/\1/p' "$TMP"/watch-*.log | sort -n | tail -1)
checked_sum() { sed -n "s/^CHECKED .* $1=\([0-9]*\).*/\1/p" "$TMP"/watch-*.log | awk '{s += $1} END {print s + 0}'; }
UNVERIFIED=$(checked_sum unverified)
GET_ERRORS=$(checked_sum get_errors)
CLOSED=$(checked_sum closed)
hist_snapshot >"$TMP/hist1.txt"
read -r A2S_N A2S_P50 A2S_P99 < <(hist_delta "$TMP/hist0.txt" "$TMP/hist1.txt")
# Merged over the watchers: per tick the sums of counts and the maxima of delivery times.
T_FIRST=$(head -1 "$TMP/ticks.txt" | cut -d' ' -f1)
cat "$TMP"/ticks-*.txt | awk -v t0="$T_FIRST" '
  { k = $1; at[k] = $2; nn[k] += $3; if ($3 && $4 > nm[k]) nm[k] = $4; nx[k] += $5
    fn[k] += $6; if ($6 && $7 > fm[k]) fm[k] = $7; fx[k] += $8; ns[k] += $9; fs[k] += $10
    nw[k] += $11 }
  END { for (k in at) printf "%d %.3f %d %.1f %d %d %.1f %d %.1f %.1f %d\n", k, (at[k] - t0) / 1000,
        nn[k], nm[k] / 1000, nx[k], fn[k], fm[k] / 1000, fx[k],
        nn[k] ? ns[k] / nn[k] / 1000 : 0, fn[k] ? fs[k] / fn[k] / 1000 : 0, nw[k] }' |
  sort -n >"$TMP/scale-ticks.txt"
# p50/p99/max over ticks of column c (ticks where column nc, their count of streams, is > 0)
over_ticks() {
  awk -v c="$1" -v nc="$2" '$nc > 0 {print $c}' "$TMP/scale-ticks.txt" | sort -g | awk '
    {v[NR] = $1} END { if (!NR) {print "n/a n/a n/a 0"; exit}
      i50 = int(0.5 * NR + 0.999999); i99 = int(0.99 * NR + 0.999999)
      printf "%.0f %.0f %.0f %d\n", v[i50], v[i99], v[NR], NR }'
}
read -r NEAR_P50 NEAR_P99 NEAR_MAX NEAR_TICKS < <(over_ticks 4 3)
read -r FAR_P50 FAR_P99 FAR_MAX FAR_TICKS < <(over_ticks 7 6)
read -r ALL_P50 ALL_P99 ALL_MAX _ < <(awk '{print ($4 > $7) ? $4 : $7}' "$TMP/scale-ticks.txt" | sort -g | awk '
    {v[NR] = $1} END { i50 = int(0.5 * NR + 0.999999); i99 = int(0.99 * NR + 0.999999)
      printf "%.0f %.0f %.0f %d\n", v[i50], v[i99], v[NR], NR }')
MISSING=$(awk '{s += $5 + $8} END {print s + 0}' "$TMP/scale-ticks.txt")
NEAR_MIN_STREAMS=$(awk 'NR == 1 || $11 < m {m = $11} END {print m + 0}' "$TMP/scale-ticks.txt")
log "  wrong final states: $WRONG, unverified $UNVERIFIED (GET errors $GET_ERRORS; streams closed by the server $CLOSED; settled in $SETTLE_MS ms); per tick, every moved stream: near p99 $NEAR_P99 ms, far p99 $FAR_P99 ms, all p99 $ALL_P99 ms; missing $MISSING"
log "  admission → SSE (server histograms, all $P): n=$A2S_N p50 $A2S_P50 ms p99 $A2S_P99 ms"

# --- the crowd: CROWD joins, wrk on every process at once, each stopping after CROWD/P --------
crowd() {  # tag → sets CROWD_RPS CROWD_JOINS CROWD_P99 CROWD_WALL CROWD_REDIS_CPU CROWD_ANT_CPU CROWD_KAFKA
  local tag=$1 i c0 c1 x0 x1 k0 k1 t0 t1 wp=() per=$(((CROWD_CONNS + P - 1) / P))
  c0=$(redis_cpu_ms "$R_PORT")
  x0=$(cpu_ms "${APIDS[@]}")
  k0=$(metric_sum anteroom_relay_produced_total)
  t0=$(ms_now)
  local j0 j
  j0=$(redis-cli -p "$R_PORT" hget "aq:{$Q}:meta" joined_total)
  for i in $(seq 0 $((P - 1))); do
    CROWD_LIMIT=$((CROWD / P)) wrk -t1 -c"$per" -d"$CROWD_MAX_SECS"s --latency -s "$ROOT/bench/crowd.lua" \
      "${URLS[$i]}/v1/queues/$Q/tickets" >"$TMP/crowd-$tag-$i.txt" 2>&1 &
    wp+=("$!")
  done
  # The crowd is over once the queue has counted its joins (each wrk stops at its share):
  # interrupt them all, so that each reports at once (SIGINT) rather than at -d.
  until j=$(redis-cli -p "$R_PORT" hget "aq:{$Q}:meta" joined_total) && [ $((j - j0)) -ge $((CROWD / P * P)) ]; do
    kill -0 "${wp[@]}" 2>/dev/null || break
    sleep 0.05
  done
  kill -INT "${wp[@]}" 2>/dev/null || true
  for i in $(seq 0 $((P - 1))); do
    wait "${wp[$i]}" || { cat "$TMP/crowd-$tag-$i.txt" >&2; die "wrk failed"; }
  done
  t1=$(ms_now)
  c1=$(redis_cpu_ms "$R_PORT")
  x1=$(cpu_ms "${APIDS[@]}")
  k1=$(metric_sum anteroom_relay_produced_total)
  CROWD_JOINS=0 CROWD_P99=0 CROWD_WALL=0 CROWD_ERRORS=0 CROWD_TIMEOUTS=0
  for i in $(seq 0 $((P - 1))); do
    local f="$TMP/crowd-$tag-$i.txt" v
    CROWD_JOINS=$((CROWD_JOINS + $(awk '/requests in/ {print $1}' "$f")))
    # error answers (e.g. 503 while a process lost Redis) and requests that timed out (2 s):
    # counted, not fatal (the report says how the crowd went)
    CROWD_ERRORS=$((CROWD_ERRORS + $(awk '/Non-2xx/ {s += $NF} END {print s + 0}' "$f")))
    CROWD_TIMEOUTS=$((CROWD_TIMEOUTS + $(awk '/Socket errors/ {s += $NF} END {print s + 0}' "$f")))
    # the longest wrk (its own clock), and the worst process's p99 (percentiles cannot be merged)
    CROWD_WALL=$(awk -v a="$CROWD_WALL" '/requests in/ {v = $4; sub(/,$/, "", v); x = v + 0
      if (v ~ /ms$/) x /= 1000; else if (v ~ /m$/) x *= 60; else if (v ~ /h$/) x *= 3600
      print (x > a + 0) ? x : a}' "$f")
    v=$(wrk_pct_ms "$f" 99%)
    CROWD_P99=$(awk -v a="$CROWD_P99" -v b="$v" 'BEGIN {print (b + 0 > a + 0) ? b : a}')
  done
  CROWD_RPS=$(awk -v n="$CROWD_JOINS" -v s="$CROWD_WALL" 'BEGIN {printf "%.0f", n / s}')
  CROWD_REDIS_CPU=$(per_s $((c1 - c0)) $((t1 - t0)))
  CROWD_ANT_CPU=$(per_s $((x1 - x0)) $((t1 - t0)))
  CROWD_KAFKA=$(per_s $((k1 - k0)) $((t1 - t0)))
}
IDLE1_S=$(wait_idle)
log "crowd with $STREAMS streams open (idle after $IDLE1_S s): $CROWD joins, wrk -c$CROWD_CONNS in all on $P processes"
crowd streams
S_ERR="$CROWD_ERRORS / $CROWD_TIMEOUTS" S_RPS=$CROWD_RPS S_JOINS=$CROWD_JOINS S_P99=$CROWD_P99 S_WALL=$CROWD_WALL S_RCPU=$CROWD_REDIS_CPU S_ACPU=$CROWD_ANT_CPU S_KAFKA=$CROWD_KAFKA
RSS_CROWD_MB=$(per_rss_mb)
log "  $S_RPS joins/s ($S_JOINS joins in $S_WALL s), worst process p99 $S_P99 ms; CPU ms/s: redis-server $S_RCPU, anteroom $S_ACPU; Kafka $S_KAFKA events/s"

log "closing the streams"
stop_pids "${LPIDS[@]}"
for _ in $(seq 600); do [ "$(metric_sum anteroom_sse_streams)" = 0 ] && break; sleep 0.1; done
[ "$(metric_sum anteroom_sse_streams)" = 0 ] || die "the processes still count open streams after sse-load exited"
IDLE2_S=$(wait_idle)
log "crowd with no streams open (idle after $IDLE2_S s)"
crowd none
N_ERR="$CROWD_ERRORS / $CROWD_TIMEOUTS" N_RPS=$CROWD_RPS N_JOINS=$CROWD_JOINS N_P99=$CROWD_P99 N_WALL=$CROWD_WALL N_RCPU=$CROWD_REDIS_CPU N_ACPU=$CROWD_ANT_CPU N_KAFKA=$CROWD_KAFKA
log "  $N_RPS joins/s ($N_JOINS joins in $N_WALL s), worst process p99 $N_P99 ms; CPU ms/s: redis-server $N_RCPU, anteroom $N_ACPU; Kafka $N_KAFKA events/s"
RATIO=$(ratio "$S_RPS" "$N_RPS")
read -r H1_RESYNC H1_RECONN H1_REBAL < <(health)
LOST_REDIS=$(cat "$TMP"/S*.err | grep -c "lost: no reply" || true)
LOST_LEASE=$(cat "$TMP"/S*.err | grep -c "lost the lease" || true)
"$BIN/sse-load" slowlog --redis "127.0.0.1:$R_PORT" --since "$SLOW_SINCE" >"$TMP/slowlog.txt" 2>&1 || true
SLOW_N=$(sed -n 's/^RESULT .* n=\([0-9]*\).*/\1/p' "$TMP/slowlog.txt")
SLOW_LINES=$(grep '^  ' "$TMP/slowlog.txt" | awk '{for (i = 1; i <= NF; i++) if ($i == "longest") print $(i + 1), $0}' |
  sort -rn | head -8 | cut -d' ' -f2- | sed 's/^ *//' | paste -sd ';' - || true)
# (a script's SHA named by its file, as bench/run.sh does)
for f in "$ROOT"/src/store/lua/*.lua; do
  n=$(basename "$f" .lua)
  [ "$n" = lib ] && continue
  compose_lua "$n"
  SLOW_LINES=${SLOW_LINES//$(lua_sha "$n")/$n.lua}
done
SLOW_LINES=${SLOW_LINES//;/; }
REDIS_USED_MB=$(awk -v b="$(redis_mem "$R_PORT")" 'BEGIN {printf "%.0f", b / 1048576}')

ELAPSED=$(($(date +%s) - START))
LOAD_AFTER=$(uptime)
log "  load after: $LOAD_AFTER"

# --- plots -------------------------------------------------------------------------------------
PNG_TICKS=scale-ticks.png
if command -v gnuplot >/dev/null; then
  gnuplot <<EOF || log "gnuplot failed for $PNG_TICKS"
set terminal pngcairo size 900,500 font ",10" noenhanced
set output "$OUTDIR/$PNG_TICKS"
set title "Per admission tick: time until every stream it moved has a frame reflecting it ($STREAMS streams, $P processes, $ADMIT/s)"
set xlabel "s since the first admission tick"
set ylabel "ms after the tick (the store's clock)"
set logscale y
set grid
set key top left
plot "$TMP/scale-ticks.txt" using 2:(\$3 > 0 ? \$4 : 1/0) with points pt 7 ps 0.4 title "near the head (position <= $NEAR after the tick, or admitted by it): slowest", \
     "$TMP/scale-ticks.txt" using 2:(\$6 > 0 ? \$7 : 1/0) with points pt 7 ps 0.4 title "far back (coalesced: at most one position a second): slowest", \
     "$TMP/scale-ticks.txt" using 2:(\$6 > 0 ? \$10 : 1/0) with lines lw 1 title "far back: mean"
EOF
else
  log "gnuplot is missing: no plot"
fi

# --- report ----------------------------------------------------------------------------------
# (before the report is written: it is itself a tracked file)
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
met() { meets "$@"; }
{
  echo "# anteroom at an on-sale's scale on one machine"
  echo
  echo "- command: \`P=$P WAITING=$WAITING STREAMS=$STREAMS ADMIT=$ADMIT ADMIT_SECS=$ADMIT_SECS CROWD=$CROWD CROWD_CONNS=$CROWD_CONNS ./dev bench --scale\` ($ELAPSED s in all)"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $COMMIT"
  echo "- machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), open-file limit $(ulimit -n)"
  echo "- load before: \`$(echo "$LOAD_BEFORE" | sed 's/^ *//')\`; after: \`$(echo "$LOAD_AFTER" | sed 's/^ *//')\`"
  echo "- setup: one redis-server, one kafka-mock (librdkafka's mock cluster: 3 brokers, 6 partitions), $P anteroom processes \`--redis --kafka\` (events: outbox → relay → Kafka → consumer → Redis Pub/Sub → every process), one queue filled to $NWAIT waiting by the server's join script (\`sse-load fill\`: EVALSHA, pipelined, in rounds of $FILL_CHUNK each waiting until the pipeline carried its events: $FILL_S s in all), $STREAMS SSE streams held by $NL \`sse-load watch\` processes (each spread over all $P anteroom processes; opened in $OPEN_S s), admission at $ADMIT/s for ${ADMIT_SECS}s, then the crowd of $CROWD joins with every stream open, then the same with none"
  echo "- the streams' place in the line: the first $HEAD tickets of the line (behind one HTTP join) all have a stream, so that the first $NEAR positions hold streams during the whole admission (the fewest waiting streams at positions 1..$NEAR after any tick: $NEAR_MIN_STREAMS); the other $((STREAMS - HEAD)) are every ${K}th ticket of the rest of the line (positions $POS_RANGE at the start). At any moment about $NEAR streams are near the head and all the others far back. $HEAD_NOTE"
  echo
  if [ -n "$DRAIN_NOTE" ]; then echo "$DRAIN_NOTE"; echo; fi
  echo "| figure | value | goal | met |"
  echo "|---|---|---|---|"
  echo "| per tick, every moved stream near the head has it: p50 / p99 / max over $NEAR_TICKS ticks (ms) | $NEAR_P50 / $NEAR_P99 / $NEAR_MAX | p99 ≤ 250 | $(met "$NEAR_P99" '<=' 250) |"
  echo "| per tick, every moved stream far back has it: p50 / p99 / max over $FAR_TICKS ticks (ms) | $FAR_P50 / $FAR_P99 / $FAR_MAX | | |"
  echo "| per tick, every moved stream has it: p50 / p99 / max over $NTICKS ticks (ms) | $ALL_P50 / $ALL_P99 / $ALL_MAX | p99 ≤ 1500 | $(met "$ALL_P99" '<=' 1500) |"
  echo "| (stream, tick) pairs with no frame reflecting the tick | $MISSING | 0 | $(met "$MISSING" '<=' 0) |"
  echo "| streams whose final state is wrong (of $STREAMS; all checked) | $WRONG | 0 | $(met "$WRONG" '<=' 0) |"
  echo "| streams not verified (GET ticket kept failing), GET errors, streams closed by the server | $UNVERIFIED, $GET_ERRORS, $CLOSED | 0 | $(met "$((UNVERIFIED + CLOSED))" '<=' 0) |"
  echo "| admission → SSE, server histograms of all $P processes: n / p50 / p99 (ms) | $A2S_N / $A2S_P50 / $A2S_P99 | | |"
  echo "| crowd joins/s with $STREAMS streams open | $S_RPS | | |"
  echo "| crowd joins/s with none | $N_RPS | | |"
  echo "| ratio | $RATIO | ≥ 0.8 | $(met "$RATIO" '>=' 0.8) |"
  echo "| crowd join p99, worst process (ms), streams / none | $S_P99 / $N_P99 | | |"
  echo "| crowd joins made, streams / none (in s; each crowd stops at ${CROWD_MAX_SECS}s) | $S_JOINS ($S_WALL s) / $N_JOINS ($N_WALL s) | $CROWD | |"
  echo "| crowd error answers / timed-out requests, streams; none | $S_ERR; $N_ERR | 0 | $(met "$(echo "$S_ERR $N_ERR" | tr -d '/;' | awk '{print $1 + $2 + $3 + $4}')" '<=' 0) |"
  echo "| Kafka events/s (relays' \`anteroom_relay_produced_total\`, all $P): admission / crowd with streams / crowd without | $KAFKA_ADMIT / $S_KAFKA / $N_KAFKA | | |"
  echo "| Kafka events/s consumed and re-published to Pub/Sub during admission (\`anteroom_consumer_events_total\`) | $CONSUMED_ADMIT | | |"
  echo "| after admission stopped, s until Pub/Sub had carried every admission | $DRAIN_SECS | | |"
  echo "| anteroom RSS per stream (bytes) | $RSS_PER_STREAM | | |"
  echo "| anteroom RSS per process with streams open (MB) | $RSS_STREAMS_MB | | |"
  echo "| anteroom RSS per process after the crowd (MB) | $RSS_CROWD_MB | | |"
  echo "| Redis bytes per waiting ticket (outbox excluded) | $BYTES_PER_TICKET | ≤ 250 | $(met "$BYTES_PER_TICKET" '<=' 250) |"
  echo "| Redis used_memory at the end (MB) | $REDIS_USED_MB | | |"
  echo "| admitted during ${ADMIT_SECS}s at $ADMIT/s | $ADMITTED ($ADMIT_RATE/s, $NTICKS ticks) | | |"
  echo "| redis-server CPU (ms/s): admission / crowd with streams / crowd without | $REDIS_CPU_ADMIT / $S_RCPU / $N_RCPU | | |"
  echo "| anteroom CPU, all $P processes (ms/s): admission / crowd with streams / crowd without | $ANT_CPU_ADMIT / $S_ACPU / $N_ACPU | | |"
  echo "| sse-load CPU, all $NL (ms/s) during admission | $LOADER_CPU_ADMIT | | |"
  echo "| trouble over the run: hub resyncs / Pub/Sub reconnects / consumer rebalances (all processes) | $((H1_RESYNC - H0_RESYNC)) / $((H1_RECONN - H0_RECONN)) / $((H1_REBAL - H0_REBAL)) | | |"
  echo "| trouble over the run: Redis connections lost (no reply for 5 s) / relay leases lost (process logs) | $LOST_REDIS / $LOST_LEASE | | |"
  echo "| Redis calls of ≥ 10 ms over the run (SLOWLOG), and the commands with the longest | ${SLOW_N:-?}: ${SLOW_LINES:-none} | | |"
  echo
  echo "Per tick delivery over the run: ![per tick]($PNG_TICKS)"
  echo
  echo "## What each figure is"
  echo
  echo "- Ticks: the server's own events, read from Redis Pub/Sub (\`aq:events\`, what every process's feed reads) during admission: a tick is a run of consecutive seqs sharing one \`at\` (the store's clock, ms, the wall clock of the process that ticked) with admissions in it. For each tick and each stream waiting before it (its position before = its first frame's position − admissions before the tick): the first frame it received (\`sse-load\`: CLOCK_REALTIME µs at arrival) with \`id\` ≥ the tick's last seq, or its \`admitted\` frame, minus the tick's \`at\`. A tick's figure is the slowest such stream (every moved stream has it); p50/p99/max are over ticks. Near: the stream's position after the tick is ≤ $NEAR or the tick admitted it; far: the rest, whose positions the hub coalesces to one a second by design (so far-back figures include up to that second)."
  echo "- Final state: after admission stopped (every admission seen on Pub/Sub, the line's length steady), each \`sse-load watch\` reads GET ticket for every one of its streams and compares it with the stream's latest frame (position, or \`admitted\` for an active ticket), re-reading those that disagree every 200 ms until all agree or ${SETTLE_S}s pass; the count is of those that still disagree (slowest watcher settled in $SETTLE_MS ms)."
  echo "- Admission → SSE: \`anteroom_admission_to_sse_ms\` (from the admission's store time to its frame queued on the stream), cumulative buckets summed over the $P processes, delta from before admission to after the final-state check; quantiles linear within a bucket."
  echo "- Crowd: \`wrk -t1 -c$(((CROWD_CONNS + P - 1) / P)) --latency -s bench/crowd.lua\` POST joins on each of the $P processes at once, each stopping after $((CROWD / P)) answers and interrupted once the queue's \`joined_total\` grew by the crowd (all on the same 2 cores as the servers, Redis, Kafka and, for the first crowd, the $NL sse-load processes holding the streams); joins/s = all joins / the longest wrk's duration; p99 is the worst process's (wrk's percentiles cannot be merged). Before each crowd the processes are idle (their hub and SSE counters still for a second: ${IDLE1_S}s and ${IDLE2_S}s). The second crowd joins a line longer by the first crowd."
  echo "- Kafka events/s: the relays' \`anteroom_relay_produced_total\` summed over the processes, delta over the phase / its wall time."
  echo "- RSS per stream: (sum of the anteroom processes' VmRSS with every stream open − the same before the fill) / streams; it includes each process's position index of the $NWAIT-long line."
  echo "- Redis bytes per waiting ticket: used_memory growth over the fill / tickets filled, the outbox stream's MEMORY USAGE taken out (as bench 6); of it the live tickets' hash \`aq:{q}:live\`: $((MEM_LIVE / NWAIT)) B (the rest: the \`wait\` zset)."
  echo "- CPU: redis-server's INFO cpu (used_cpu_user + used_cpu_sys), the anteroom and sse-load processes' utime + stime (/proc/PID/stat) summed, over the phase per second of wall time (the machine has $(nproc) cores: $(($(nproc) * 1000)) ms/s in all)."
} >"$OUT"
# Many queues (sizing (b)): its own servers, after this run's are gone.
if [ "${SCALE_QUEUES:-1}" = 1 ]; then
  cleanup
  echo >>"$OUT"
  SCALE_QUEUES_OUT="$TMP/queues.md" MEASURE_SECS=${QUEUES_MEASURE_SECS:-10} "$ROOT/bench/scale_queues.sh"
  cat "$TMP/queues.md" >>"$OUT"
fi
log "wrote $OUT (${ELAPSED}s)"
cat "$OUT"
echo quit >&9 || true
