# Helpers for bench/run.sh: start and stop the servers it measures (each by its own PID),
# parse tool output, record result rows. Sourced, not run.

PIDS=()       # every process we started, stopped by PID at exit
ROWS=()       # result rows: name|anteroom|baseline|ratio|goal|met|unit|note
ADMIN=bench-admin
SECRET=bench-secret-0123456789abcdef0123456789

log() { printf '\033[1m[bench %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  PIDS=()
}

# Stops the given PIDs (ours) and forgets them.
stop_pids() {
  local pid keep=() p
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    local drop=0
    for pid in "$@"; do [ "$p" = "$pid" ] && drop=1; done
    [ $drop = 1 ] || keep+=("$p")
  done
  PIDS=("${keep[@]}")
}

free_port() {
  local p
  for _ in $(seq 100); do
    # below the ephemeral range (32768+), where 15k client sockets of the previous step may linger
    p=$((12000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port"
}

wait_port() {  # port [seconds]
  local t=$(( ${2:-10} * 20 ))
  for _ in $(seq $t); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  log "nothing listens on port $1"
  return 1
}

# start_anteroom NAME [flags...]: sets NAME_PID, NAME_PORT, NAME_URL.
start_anteroom() {
  local name=$1
  shift
  # shellcheck disable=SC2086
  $PIN_SERVER "$BIN/anteroom" --listen 127.0.0.1:0 --admin-token "$ADMIN" --token-secret "$SECRET" \
    --join-rate-per-ip 0 --max-conns-per-ip 0 --node-id "$name" "$@" \
    >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$! port=""
  PIDS+=("$pid")
  for _ in $(seq 200); do
    # (the background process may not have created its output file yet)
    port=$(sed -n 's/^anteroom listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.out" 2>/dev/null || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/$name.err" >&2; die "anteroom $name exited"; }
    sleep 0.05
  done
  [ -n "$port" ] || die "anteroom $name did not start"
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_PORT" '%s' "$port"
  printf -v "${name}_URL" '%s' "http://127.0.0.1:$port"
}

# put_queue URL QUEUE JSON
put_queue() {
  local code
  code=$(curl -s -o "$TMP/put.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $ADMIN" \
    "$1/v1/queues/$2" -d "$3")
  case "$code" in 200 | 201) ;; *) cat "$TMP/put.json" >&2; die "PUT $2 answered $code" ;; esac
}

# start_redis NAME: sets NAME_PID, NAME_PORT. No persistence: a benchmark, not a test of AOF.
# BENCH_REDIS_NICE=-10 (root): redis-server at that priority, so that on a shared, loaded
# machine SLOWLOG times Redis' own work rather than its waits for a CPU (said in the notes).
start_redis() {
  local name=$1 port
  port=$(free_port)
  mkdir -p "$TMP/$name"
  # shellcheck disable=SC2086
  ${BENCH_REDIS_NICE:+nice -n $BENCH_REDIS_NICE} redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP/$name" \
    --maxmemory-policy noeviction --daemonize no --logfile "$TMP/$name/redis.log" &
  PIDS+=("$!")
  printf -v "${name}_PID" '%s' "$!"
  printf -v "${name}_PORT" '%s' "$port"
  wait_port "$port" || die "redis did not start: $(tail -3 "$TMP/$name/redis.log")"
  for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return; sleep 0.05; done
  die "redis $name does not answer"
}

# start_kafka_mock: librdkafka's mock cluster (tools/kafka-mock), reading its commands from the
# fifo $TMP/km.in, held open on fd 9 (`echo quit >&9` ends it). Sets KM_PID and BROKERS.
start_kafka_mock() {
  rm -f "$TMP/km.in"
  mkfifo "$TMP/km.in"
  "$BIN/kafka-mock" <"$TMP/km.in" >"$TMP/km.out" 2>"$TMP/km.err" &
  PIDS+=("$!")
  # shellcheck disable=SC2034  # (the callers' stop_pids "$KM_PID")
  KM_PID=$!
  exec 9>"$TMP/km.in"
  BROKERS=""
  for _ in $(seq 100); do
    BROKERS=$(sed -n 's/^BROKERS=//p' "$TMP/km.out" 2>/dev/null || true)
    [ -n "$BROKERS" ] && break
    sleep 0.05
  done
  [ -n "$BROKERS" ] || die "kafka-mock did not start"
}

# Wall clock in ms.
ms_now() { date +%s%3N; }
# redis-server's CPU so far, in ms (INFO cpu: user + sys of the server, its threads included).
redis_cpu_ms() {  # port
  redis-cli -p "$1" info cpu | tr -d '\r' |
    awk -F: '$1 == "used_cpu_sys" || $1 == "used_cpu_user" {s += $2} END {printf "%.0f", s * 1000}'
}
# CPU so far of the given processes, in ms (utime + stime of /proc/PID/stat, all threads).
cpu_ms() {  # pid...
  local s=0 p hz
  hz=$(getconf CLK_TCK)
  for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo $((s * 1000 / hz))
}

# With PIN_SERVER="taskset -c 0" and PIN_CLIENT="taskset -c 1", servers (anteroom, the nginx
# worker) run on CPU 0 and wrk on CPU 1: the same placement for the product and its baseline.
PIN_SERVER=""
PIN_CLIENT=""

# start_nginx NAME: nginx-light (+ nchan) with its own config in a temp dir, ONE worker process
# (the same number of serving threads as anteroom's one io thread). Sets NAME_PID (master),
# NAME_WORKERS (comma list), NAME_PORT.
start_nginx() {
  local name=$1 port dir
  port=$(free_port)
  dir="$TMP/$name"
  mkdir -p "$dir/tmp"
  chmod 777 "$dir" "$dir/tmp"
  local nchan=""
  [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] &&
    nchan="load_module /usr/lib/nginx/modules/ngx_nchan_module.so;"
  cat >"$dir/nginx.conf" <<EOF
$nchan
worker_processes 1;
${PIN_SERVER:+worker_cpu_affinity 01;}
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 19500; multi_accept on; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  server {
    listen 127.0.0.1:$port backlog=4096;
    # nchan: one channel, EventSource subscribers, publisher by POST.
    location = /sub { nchan_subscriber eventsource; nchan_channel_id bench; }
    location = /pub { nchan_publisher; nchan_channel_id bench; }
    # the static 200 baseline for joins (same path and method as the anteroom join)
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>>"$dir/error.log" &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$port" 20 || { cat "$dir/error.log" >&2; exit 1; }
  local workers=""
  for _ in $(seq 100); do
    workers=$(pgrep -P "$pid" | paste -sd, -)
    [ -n "$workers" ] && break
    sleep 0.05
  done
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_WORKERS" '%s' "$workers"
  printf -v "${name}_PORT" '%s' "$port"
}

# wrk_rps OUTFILE → requests/s (fails on non-2xx answers or socket errors)
wrk_run() {  # outfile url [extra wrk args]
  local out=$1 url=$2
  shift 2
  # shellcheck disable=SC2086
  $PIN_CLIENT wrk -t1 -c"$WRK_CONNS" -d"$WRK_SECS"s --latency -s "$ROOT/bench/post.lua" "$@" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed"; }
  if grep -q "Non-2xx" "$out"; then cat "$out" >&2; die "wrk saw error answers from $url"; fi
}
wrk_rps() { awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$1"; }
# A wrk latency percentile (e.g. 99%) in ms.
wrk_pct_ms() {
  awk -v p="$2" '$1 == p {
      v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
      if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
      printf "%.3f", v }' "$1"
}

# result_field "RESULT ... key=value ..." key
result_field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
# cmp VALUE OP LIMIT → yes/no
meets() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
  if (v == "" || v == "n/a" || v == "nan") { print "no"; exit }
  ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); print ok ? "yes" : "no" }'; }

# row NAME ANTEROOM BASELINE RATIO GOAL MET UNIT NOTE — also prints the benchmark's line.
row() {
  ROWS+=("$1|$2|$3|$4|$5|$6|$7|$8")
  printf '%s: anteroom=%s baseline=%s ratio=%s\n' "$1" "$2" "$3" "$4"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
redis_mem() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }

# The Lua script exactly as RedisStore composes it (src/store/redis_store.cpp, scripts()):
# constants, lib.lua, a comment line, the script. Written to $TMP/NAME.lua.
compose_lua() {
  local name=$1 lua="$ROOT/src/store/lua" ret
  ret=$(sed -n 's/.*kEndedRetentionMs = \([0-9 *]*\);.*/\1/p' "$ROOT/src/core/rules.hpp")
  {
    printf 'local RETENTION_MS = %s\n' "$((ret))"
    printf 'local CLUSTER = false\n'  # (the standalone set: redis/script_io.cpp scripts)
    cat "$lua/lib.lua"
    printf '\n-- %s.lua\n' "$name"
    cat "$lua/$name.lua"
  } >"$TMP/$name.lua"
}
# SHA1 of a composed script, as Redis names it.
lua_sha() { sha1sum "$TMP/$1.lua" | cut -d' ' -f1; }
# The keys of a queue's scripts, in order, read from script_keys() in src/store/redis/keys.hpp
# (each key function there is `prefix(q) + "<suffix>"`), so the list follows the server.
queue_keys() {
  local h="$ROOT/src/store/redis/keys.hpp" fn suffix out=()
  # (the list may span lines: joined first)
  for fn in $(sed -n '/script_keys(std::string_view q)/,/};/p' "$h" | tr -d '\n' |
    sed -n 's/.*return {\(.*\)};.*/\1/p' | tr -d ' ' | tr ',' '\n' | sed 's/(q)//'); do
    suffix=$(sed -n "s/.*inline std::string $fn(std::string_view q) { return prefix(q) + \"\([^\"]*\)\"; }.*/\1/p" "$h")
    [ -n "$suffix" ] || die "cannot read key $fn from $h"
    out+=("aq:{$1}:$suffix")
  done
  echo "${#out[@]} ${out[*]}"
}
