#!/usr/bin/env bash
# An on-sale's scale on one machine (issue 16; bench/README.md "Scale"): first version.
#   bench/scale.sh        (./dev bench --scale builds what it needs and runs this)
# Not part of the default ./dev bench. Parameters (environment; the issue's defaults):
#   P=6               anteroom processes on one redis-server (Redis-only mode: outbox tailing)
#   WAITING=1000000   tickets in line before the streams open (the server's join script, pipelined)
#   STREAMS=100000    SSE streams held open (sse-load hold), spread over the processes, in
#                     sse-load processes of at most STREAMS_PER_LOADER (20000: the open-file limit)
#   ADMIT=1000        admissions per second, for ADMIT_SECS=60
#   CROWD_SECS=10     the flash crowd: wrk joins on every process at once for this long
#                     (CROWD_CONNS=48 connections in all), with the streams open, then again with none
#   CROWD=200000      the crowd the issue asks for: reported against the joins the crowd made
# Writes bench/results/scale.md (SCALE_OUT to write elsewhere).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_BUILD_DIR:-$ROOT/build}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

P=${P:-6}
WAITING=${WAITING:-1000000}
STREAMS=${STREAMS:-100000}
STREAMS_PER_LOADER=${STREAMS_PER_LOADER:-20000}
ADMIT=${ADMIT:-1000}
ADMIT_SECS=${ADMIT_SECS:-60}
CROWD=${CROWD:-200000}
CROWD_SECS=${CROWD_SECS:-10}
CROWD_CONNS=${CROWD_CONNS:-48}
OUT=${SCALE_OUT:-$ROOT/bench/results/scale.md}

for b in anteroom sse-load; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing (./dev bench --scale builds it)"; done
for t in curl wrk redis-server redis-cli redis-benchmark; do
  command -v "$t" >/dev/null || die "$t is missing (./dev bench installs it)"
done
[ "$STREAMS_PER_LOADER" -le 19000 ] || STREAMS_PER_LOADER=19000  # a few files for the rest
TMP=$(mktemp -d /tmp/bench-scale.XXXXXX)
trap 'cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

START=$(date +%s)
LOAD_BEFORE=$(uptime)
log "scale: P=$P WAITING=$WAITING STREAMS=$STREAMS ADMIT=$ADMIT/s×${ADMIT_SECS}s CROWD_SECS=$CROWD_SECS; scratch $TMP"

streams_open() {  # url → the process's open SSE streams (its sse_streams gauge)
  curl -sf "$1/metrics" | awk '$1 == "anteroom_sse_streams" {printf "%.0f", $2}'
}
# redis-server's CPU so far, in ms (INFO cpu: user + sys).
redis_cpu_ms() {
  redis-cli -p "$R_PORT" info cpu | tr -d '\r' |
    awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" {s += $2} END {printf "%.0f", s * 1000}'
}
ms_now() { date +%s%3N; }
# CPU of every anteroom process so far, in ms (utime + stime of /proc/PID/stat, all threads).
anteroom_cpu_ms() {
  local s=0 p hz
  hz=$(getconf CLK_TCK)
  for p in "${APIDS[@]}"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo $((s * 1000 / hz))
}
per_s() { awk -v c="$1" -v d="$2" 'BEGIN {printf "%.0f", c * 1000 / d}'; }  # ms, wall ms → ms/s
sum_rss_kb() { local s=0 p; for p in "${APIDS[@]}"; do s=$((s + $(rss_kb "$p"))); done; echo "$s"; }
per_rss_mb() { local p o=(); for p in "${APIDS[@]}"; do o+=("$(awk -v k="$(rss_kb "$p")" 'BEGIN {printf "%.0f", k / 1024}')"); done; echo "${o[*]}"; }

# --- servers --------------------------------------------------------------------------------
start_redis R
URLS=()
APIDS=()
for i in $(seq "$P"); do
  start_anteroom "S$i" --redis "redis://127.0.0.1:$R_PORT" --log-level warn
  u="S${i}_URL" p="S${i}_PID"
  URLS+=("${!u}")
  APIDS+=("${!p}")
done
Q=onsale
put_queue "${URLS[0]}" "$Q" '{"admit_per_s":0,"max_active":100000000,"abandon_after_s":604800,"session_ttl_s":604800}'
curl -sf -X POST "${URLS[0]}/v1/queues/$Q/tickets" >/dev/null  # the server loads its scripts
compose_lua join
JSHA=$(lua_sha join)
[ "$(redis-cli -p "$R_PORT" script exists "$JSHA")" = 1 ] ||
  die "bench/lib.sh compose_lua no longer builds the server's join script"
M0=$(redis_mem "$R_PORT")
RSS0=$(sum_rss_kb)

# --- fill: the server's own join script, pipelined (as bench 6) ------------------------------
log "filling: $WAITING joins with redis-benchmark -P 100 EVALSHA <join script>"
now=$(ms_now)
t0=$(ms_now)
# shellcheck disable=SC2046
redis-benchmark -p "$R_PORT" -c 4 -n "$WAITING" -P 100 -r 100000000000 -q \
  EVALSHA "$JSHA" $(queue_keys "$Q") "" "$now" "fill000000__rand_int__" "" "" "" "" >/dev/null 2>&1
t1=$(ms_now)
NWAIT=$(redis-cli -p "$R_PORT" zcard "aq:{$Q}:wait")
log "  filled: $NWAIT waiting in $(((t1 - t0) / 1000)) s"
[ "$NWAIT" -ge $((WAITING * 99 / 100)) ] || die "the fill made only $NWAIT tickets"
M1=$(redis_mem "$R_PORT")
OB=$(redis-cli -p "$R_PORT" memory usage "aq:{$Q}:outbox" samples 0)
BYTES_PER_TICKET=$(awk -v a="$M0" -v b="$M1" -v o="${OB:-0}" -v n="$NWAIT" 'BEGIN {printf "%.0f", (b - a - o) / n}')
MEM_SEEN=$(redis-cli -p "$R_PORT" memory usage "aq:{$Q}:seen" samples 0)
log "  Redis: $BYTES_PER_TICKET B per waiting ticket (outbox excluded; seen zset $((MEM_SEEN / NWAIT)) B)"

# --- streams: sse-load hold processes, each on one anteroom process, ≤ STREAMS_PER_LOADER ----
NL=$(((STREAMS + STREAMS_PER_LOADER - 1) / STREAMS_PER_LOADER))
[ "$NL" -ge "$P" ] || NL=$P
[ "$STREAMS" -ge "$NL" ] || NL=$STREAMS
log "opening $STREAMS streams: $NL sse-load hold processes over $P anteroom processes"
LPIDS=()
t0=$(ms_now)
left=$STREAMS
for l in $(seq 0 $((NL - 1))); do
  n=$((left / (NL - l)))
  left=$((left - n))
  "$BIN/sse-load" hold --url "${URLS[$((l % P))]}" --queue "$Q" --streams "$n" --timeout-s 600 \
    >"$TMP/hold-$l.log" 2>&1 &
  LPIDS+=("$!")
  PIDS+=("$!")
done
for l in $(seq 0 $((NL - 1))); do
  until grep -q '^READY' "$TMP/hold-$l.log"; do
    kill -0 "${LPIDS[$l]}" 2>/dev/null || { cat "$TMP/hold-$l.log" >&2; die "sse-load hold $l exited"; }
    sleep 0.2
  done
done
t1=$(ms_now)
open=0
for u in "${URLS[@]}"; do open=$((open + $(streams_open "$u"))); done
[ "$open" = "$STREAMS" ] || die "the processes count $open open streams, not $STREAMS"
OPEN_S=$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", d / 1000}')
RSS1=$(sum_rss_kb)
RSS_PER_STREAM=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$STREAMS" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}')
RSS_STREAMS_MB=$(per_rss_mb)
log "  $STREAMS streams open in $OPEN_S s (joins + opens); anteroom RSS per process (MB): $RSS_STREAMS_MB"

# --- admission at ADMIT/s for ADMIT_SECS, every stream open ----------------------------------
log "admission: $ADMIT/s for ${ADMIT_SECS}s"
a0=$(redis-cli -p "$R_PORT" zcard "aq:{$Q}:wait")
c0=$(redis_cpu_ms)
x0=$(anteroom_cpu_ms)
t0=$(ms_now)
put_queue "${URLS[0]}" "$Q" "{\"admit_per_s\":$ADMIT}"
sleep "$ADMIT_SECS"  # a duration under test, not a wait for a condition
put_queue "${URLS[0]}" "$Q" '{"admit_per_s":0}'
t1=$(ms_now)
c1=$(redis_cpu_ms)
x1=$(anteroom_cpu_ms)
a1=$(redis-cli -p "$R_PORT" zcard "aq:{$Q}:wait")
ADMITTED=$((a0 - a1))
ADMIT_RATE=$(awk -v n="$ADMITTED" -v d=$((t1 - t0)) 'BEGIN {printf "%.0f", n * 1000 / d}')
REDIS_CPU_ADMIT=$(per_s $((c1 - c0)) $((t1 - t0)))
ANT_CPU_ADMIT=$(per_s $((x1 - x0)) $((t1 - t0)))
log "  admitted $ADMITTED ($ADMIT_RATE/s); CPU ms/s: redis-server $REDIS_CPU_ADMIT, anteroom (all $P) $ANT_CPU_ADMIT"

# --- the crowd: wrk on every process at once --------------------------------------------------
crowd() {  # tag → sets CROWD_RPS CROWD_JOINS CROWD_P99 CROWD_REDIS_CPU CROWD_ANT_CPU
  local tag=$1 i c0 c1 x0 x1 t0 t1 wp=() per=$(((CROWD_CONNS + P - 1) / P))
  c0=$(redis_cpu_ms)
  x0=$(anteroom_cpu_ms)
  t0=$(ms_now)
  for i in $(seq 0 $((P - 1))); do
    wrk -t1 -c"$per" -d"$CROWD_SECS"s --latency -s "$ROOT/bench/post.lua" \
      "${URLS[$i]}/v1/queues/$Q/tickets" >"$TMP/crowd-$tag-$i.txt" 2>&1 &
    wp+=("$!")
  done
  for i in $(seq 0 $((P - 1))); do
    wait "${wp[$i]}" || { cat "$TMP/crowd-$tag-$i.txt" >&2; die "wrk failed"; }
    ! grep -q "Non-2xx" "$TMP/crowd-$tag-$i.txt" ||
      { cat "$TMP/crowd-$tag-$i.txt" >&2; die "wrk saw errors from ${URLS[$i]}"; }
  done
  t1=$(ms_now)
  c1=$(redis_cpu_ms)
  x1=$(anteroom_cpu_ms)
  CROWD_RPS=0 CROWD_JOINS=0 CROWD_P99=0
  for i in $(seq 0 $((P - 1))); do
    local f="$TMP/crowd-$tag-$i.txt" v
    CROWD_RPS=$((CROWD_RPS + $(wrk_rps "$f")))
    CROWD_JOINS=$((CROWD_JOINS + $(awk '/requests in/ {print $1}' "$f")))
    v=$(wrk_pct_ms "$f" 99%)
    # the worst process's p99 (wrk's percentiles cannot be merged)
    CROWD_P99=$(awk -v a="$CROWD_P99" -v b="$v" 'BEGIN {print (b + 0 > a + 0) ? b : a}')
  done
  CROWD_REDIS_CPU=$(per_s $((c1 - c0)) $((t1 - t0)))
  CROWD_ANT_CPU=$(per_s $((x1 - x0)) $((t1 - t0)))
}
log "crowd with $STREAMS streams open: wrk -c$CROWD_CONNS in all on $P processes, ${CROWD_SECS}s"
crowd streams
S_RPS=$CROWD_RPS S_JOINS=$CROWD_JOINS S_P99=$CROWD_P99 S_RCPU=$CROWD_REDIS_CPU S_ACPU=$CROWD_ANT_CPU
RSS_CROWD_MB=$(per_rss_mb)
log "  $S_RPS joins/s ($S_JOINS joins), worst process p99 $S_P99 ms; CPU ms/s: redis-server $S_RCPU, anteroom $S_ACPU"

log "closing the streams"
stop_pids "${LPIDS[@]}"
for u in "${URLS[@]}"; do
  for _ in $(seq 600); do [ "$(streams_open "$u")" = 0 ] && break; sleep 0.05; done
  [ "$(streams_open "$u")" = 0 ] || die "$u still counts open streams after sse-load exited"
done
log "crowd with no streams open"
crowd none
N_RPS=$CROWD_RPS N_JOINS=$CROWD_JOINS N_P99=$CROWD_P99 N_RCPU=$CROWD_REDIS_CPU N_ACPU=$CROWD_ANT_CPU
log "  $N_RPS joins/s ($N_JOINS joins), worst process p99 $N_P99 ms; CPU ms/s: redis-server $N_RCPU, anteroom $N_ACPU"
RATIO=$(ratio "$S_RPS" "$N_RPS")
REDIS_USED_MB=$(awk -v b="$(redis_mem "$R_PORT")" 'BEGIN {printf "%.0f", b / 1048576}')

ELAPSED=$(($(date +%s) - START))
LOAD_AFTER=$(uptime)
# --- report ----------------------------------------------------------------------------------
# (before the report is written: it is itself a tracked file)
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
{
  echo "# anteroom at an on-sale's scale on one machine — first version"
  echo
  echo "- command: \`P=$P WAITING=$WAITING STREAMS=$STREAMS ADMIT=$ADMIT ADMIT_SECS=$ADMIT_SECS CROWD_SECS=$CROWD_SECS CROWD_CONNS=$CROWD_CONNS ./dev bench --scale\` ($ELAPSED s)"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $COMMIT"
  echo "- machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), open-file limit $(ulimit -n)"
  echo "- load before: \`$(echo "$LOAD_BEFORE" | sed 's/^ *//')\`; after: \`$(echo "$LOAD_AFTER" | sed 's/^ *//')\`"
  echo "- setup: one redis-server, $P anteroom processes (Redis-only mode: no Kafka), one queue filled to $NWAIT waiting by the server's join script (redis-benchmark EVALSHA), $STREAMS SSE streams held by $NL \`sse-load hold\` processes (each on one anteroom process, round-robin; their tickets joined over HTTP behind the fill), admission at $ADMIT/s for ${ADMIT_SECS}s, then the crowd"
  echo
  echo "| figure | value | goal |"
  echo "|---|---|---|"
  echo "| crowd joins/s with $STREAMS streams open | $S_RPS | |"
  echo "| crowd joins/s with none | $N_RPS | |"
  echo "| ratio | $RATIO | ≥ 0.8 |"
  echo "| crowd join p99, worst process (ms), streams / none | $S_P99 / $N_P99 | |"
  echo "| crowd joins made, streams / none (issue: $CROWD) | $S_JOINS / $N_JOINS | |"
  echo "| anteroom RSS per stream (bytes) | $RSS_PER_STREAM | |"
  echo "| anteroom RSS per process with streams open (MB) | $RSS_STREAMS_MB | |"
  echo "| anteroom RSS per process after the crowd (MB) | $RSS_CROWD_MB | |"
  echo "| Redis bytes per waiting ticket (outbox excluded) | $BYTES_PER_TICKET | ≤ 250 |"
  echo "| Redis used_memory at the end (MB) | $REDIS_USED_MB | |"
  echo "| admitted during ${ADMIT_SECS}s at $ADMIT/s | $ADMITTED ($ADMIT_RATE/s) | |"
  echo "| redis-server CPU (ms/s): admission / crowd with streams / crowd without | $REDIS_CPU_ADMIT / $S_RCPU / $N_RCPU | |"
  echo "| anteroom CPU, all $P processes (ms/s): admission / crowd with streams / crowd without | $ANT_CPU_ADMIT / $S_ACPU / $N_ACPU | |"
  echo "| streams opened (joins + opens), s | $OPEN_S | |"
  echo
  echo "## What each figure is"
  echo
  echo "- crowd: \`wrk -t1 -c$(((CROWD_CONNS + P - 1) / P)) -d${CROWD_SECS}s\` POST joins on each of the $P processes at once (all on the same 2 cores as the servers and Redis); joins/s is the sum over the processes; p99 is the worst process's p99 (wrk's percentiles cannot be merged). The run with streams comes first, right after admission; the second crowd joins a line longer by the first crowd's joins."
  echo "- RSS per stream: (sum of the anteroom processes' VmRSS with every stream open − the same before the fill) / streams; it includes each process's position index of the $NWAIT-long line, loaded when its first stream opened."
  echo "- Redis bytes per waiting ticket: used_memory growth over the fill / tickets filled, the outbox stream's MEMORY USAGE taken out (as bench 6); the \`seen\` zset alone: $((MEM_SEEN / NWAIT)) B."
  echo "- Redis CPU: INFO cpu (used_cpu_user + used_cpu_sys) over the phase, per second of wall time; anteroom CPU: utime + stime (/proc/PID/stat) of the $P processes summed, the same way (the machine has $(nproc) cores: $(($(nproc) * 1000)) ms/s in all)."
  echo "- The crowd with streams starts as soon as admission stops (no wait for the processes to drain what admission left them), so it may pay for that backlog; the crowd without streams comes after the streams close."
  echo "- Not measured yet (see bench/README.md, Scale): per-tick delivery times near the head / far back, admission → SSE p99 across processes, Kafka events/s, streams with a wrong final state."
} >"$OUT"
log "wrote $OUT (${ELAPSED}s)"
cat "$OUT"
