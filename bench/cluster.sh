#!/usr/bin/env bash
# Redis Cluster (issue 17): joins/s over 30 queues through 3 anteroom processes on a cluster of
# 3 masters + 3 replicas, against the same on one redis-server; Redis CPU per master; and what
# `--redis-wait-replicas 1` costs a join. Bench 11 of `./dev bench` (bench/run.sh runs it and
# turns its RESULT line into rows); alone:
#   bench/cluster.sh      (needs build/anteroom, redis-server, redis-cli, wrk, curl)
# Parameters (environment):
#   SECS=10        each configuration is measured this long (after a 1 s warm-up)
#   QUEUES=30      queues, joins spread round-robin over them (bench/queues.lua)
#   CONNS=16       wrk connections per anteroom process (3 wrk, one per process, side by side)
# Configurations, each with 3 fresh anteroom processes (Redis-only mode, no Kafka):
#   single   one redis-server (redis://)
#   cluster  3 masters + 3 replicas (redis-cluster://, every node a seed)
#   wait     the same cluster, processes with --redis-wait-replicas 1
# Prints `RESULT key=value ...` last.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_BUILD_DIR:-$ROOT/build}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

SECS=${SECS:-10}
QUEUES=${QUEUES:-30}
CONNS=${CONNS:-16}
[ -x "$BIN/anteroom" ] || die "$BIN/anteroom is missing (./dev bench builds it)"
for t in wrk redis-server redis-cli curl; do command -v "$t" >/dev/null || die "$t is missing"; done
TMP=$(mktemp -d /tmp/bench-cluster.XXXXXX)
trap 'cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# start_cluster: 6 redis-server --cluster-enabled yes (own --cluster-port each), made one
# cluster of 3 masters with a replica each by `redis-cli --cluster create`. Sets NODE_PORTS,
# NODE_PIDS, CLUSTER_URL, once every node says cluster_state:ok and every master has its replica.
start_cluster() {
  NODE_PORTS=() NODE_PIDS=()
  local i port cport dir
  for i in 1 2 3 4 5 6; do
    port=$(free_port)
    cport=$(free_port)
    dir="$TMP/node$i"
    mkdir -p "$dir"
    redis-server --port "$port" --cluster-port "$cport" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 5000 --save '' \
      --appendonly no --dir "$dir" --maxmemory-policy noeviction --daemonize no \
      --logfile "$dir/redis.log" &
    PIDS+=("$!")
    NODE_PIDS+=("$!")
    NODE_PORTS+=("$port")
    wait_port "$port" || die "cluster node $i did not start: $(tail -3 "$dir/redis.log")"
  done
  local addrs=() p
  for p in "${NODE_PORTS[@]}"; do addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$TMP/create.log" 2>&1 ||
    { cat "$TMP/create.log" >&2; die "redis-cli --cluster create failed"; }
  local ok
  for _ in $(seq 600); do
    ok=1
    for p in "${NODE_PORTS[@]}"; do
      redis-cli -p "$p" cluster info | tr -d '\r' | grep -q '^cluster_state:ok$' || ok=0
    done
    [ "$(masters | wc -w)" = 3 ] || ok=0
    for p in $(masters); do
      [ "$(redis-cli -p "$p" info replication | tr -d '\r' | sed -n 's/^connected_slaves://p')" -ge 1 ] || ok=0
    done
    [ $ok = 1 ] && break
    sleep 0.1
  done
  [ $ok = 1 ] || die "the cluster did not become ready"
  CLUSTER_URL="redis-cluster://$(IFS=,; echo "${addrs[*]}")"
}
# The ports of the masters serving slots, as the cluster says.
masters() {
  redis-cli -p "${NODE_PORTS[0]}" cluster nodes | awk '$3 ~ /master/ && $9 != "" {split($2, a, "[:@]"); print a[2]}' | sort -n
}

# run_config TAG REDIS_URL REDIS_PORTS ARGS... → sets RPS P99 REFUSED CPU (Redis CPU ms/s per
# listed port, comma-separated) ACPU (the 3 processes' CPU ms/s) for 3 fresh processes on that store, QUEUES queues, 3 wrk side by side.
run_config() {
  local tag=$1 url=$2 ports=$3 i
  shift 3
  local apids=() urls=()
  for i in 1 2 3; do
    start_anteroom "C$i" --redis "$url" --log-level warn "$@"
    local u="C${i}_URL" p="C${i}_PID"
    urls+=("${!u}")
    apids+=("${!p}")
  done
  for i in $(seq 0 $((QUEUES - 1))); do
    put_queue "${urls[0]}" "b$i" '{"admit_per_s":0,"max_active":1000000,"abandon_after_s":604800}'
  done
  for u in "${urls[@]}"; do  # warm-up: connections, scripts loaded, slot map known
    QUEUES=$QUEUES wrk -t1 -c4 -d1s -s "$ROOT/bench/queues.lua" "$u" >/dev/null
  done
  local c0=() c1=() t0 t1 p wpids=()
  for p in ${ports//,/ }; do c0+=("$(redis_cpu_ms "$p")"); done
  local a0 a1
  a0=$(cpu_ms "${apids[@]}")
  t0=$(ms_now)
  for i in 0 1 2; do
    QUEUES=$QUEUES wrk -t1 -c"$CONNS" -d"$SECS"s --latency -s "$ROOT/bench/queues.lua" \
      "${urls[$i]}" >"$TMP/wrk-$tag-$i.txt" 2>&1 &
    wpids+=("$!")
  done
  for p in "${wpids[@]}"; do wait "$p" || die "wrk failed: $(cat "$TMP"/wrk-"$tag"-*.txt)"; done
  t1=$(ms_now)
  a1=$(cpu_ms "${apids[@]}")
  for p in ${ports//,/ }; do c1+=("$(redis_cpu_ms "$p")"); done
  RPS=0 P99=0 REFUSED=0
  local f r q n
  for i in 0 1 2; do
    f="$TMP/wrk-$tag-$i.txt"
    r=$(wrk_rps "$f")
    q=$(wrk_pct_ms "$f" 99%)
    n=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$f")
    RPS=$((RPS + r))
    REFUSED=$((REFUSED + ${n:-0}))
    P99=$(awk -v a="$P99" -v b="$q" 'BEGIN {print (b + 0 > a + 0) ? b : a}')
  done
  CPU=""
  for i in "${!c0[@]}"; do
    CPU+="${CPU:+,}$(awk -v c=$((c1[i] - c0[i])) -v d=$((t1 - t0)) 'BEGIN {printf "%.0f", c * 1000 / d}')"
  done
  ACPU=$(awk -v c=$((a1 - a0)) -v d=$((t1 - t0)) 'BEGIN {printf "%.0f", c * 1000 / d}')
  log "  $tag: $RPS joins/s (p99 ${P99} ms, worst of the 3 processes; $REFUSED refused), Redis CPU ms/s: $CPU, anteroom CPU ms/s (all 3): $ACPU"
  stop_pids "${apids[@]}"
}

START=$(date +%s)
LOAD_BEFORE=$(uptime)
log "cluster: $QUEUES queues, 3 processes, 3 x wrk -t1 -c$CONNS -d${SECS}s; $LOAD_BEFORE"

start_redis R
run_config single "redis://127.0.0.1:$R_PORT" "$R_PORT"
S_RPS=$RPS S_P99=$P99 S_CPU=$CPU S_REF=$REFUSED S_ACPU=$ACPU
stop_pids "$R_PID"

start_cluster
MASTERS=$(masters | paste -sd, -)
run_config cluster "$CLUSTER_URL" "$MASTERS"
C_RPS=$RPS C_P99=$P99 C_CPU=$CPU C_REF=$REFUSED C_ACPU=$ACPU
# Where the queues landed: each master SCANs only its own keys.
SPREAD=""
for p in ${MASTERS//,/ }; do
  SPREAD+="${SPREAD:+,}$(redis-cli -p "$p" --scan --pattern 'aq:{b*}:meta' | wc -l)"
done
run_config wait "$CLUSTER_URL" "$MASTERS" --redis-wait-replicas 1
W_RPS=$RPS W_P99=$P99 W_CPU=$CPU W_REF=$REFUSED W_ACPU=$ACPU
stop_pids "${NODE_PIDS[@]}"

ELAPSED=$(($(date +%s) - START))
log "done in ${ELAPSED} s; $(uptime)"
# (no spaces inside values: bench/run.sh reads them with result_field)
echo "RESULT single_rps=$S_RPS single_p99_ms=$S_P99 single_cpu=$S_CPU single_refused=$S_REF single_anteroom_cpu=$S_ACPU" \
  "cluster_rps=$C_RPS cluster_p99_ms=$C_P99 cluster_cpu=$C_CPU cluster_refused=$C_REF cluster_anteroom_cpu=$C_ACPU" \
  "wait_rps=$W_RPS wait_p99_ms=$W_P99 wait_cpu=$W_CPU wait_refused=$W_REF wait_anteroom_cpu=$W_ACPU" \
  "queues_per_master=$SPREAD secs=$SECS conns=$CONNS queues=$QUEUES elapsed_s=$ELAPSED"
