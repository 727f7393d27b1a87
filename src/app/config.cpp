#include "app/config.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "core/rules.hpp"

namespace anteroom::app {

namespace {

// host:port with a numeric IPv4/IPv6 host (or "localhost") and a port in 0..65535.
bool parse_listen(const std::string& s, std::string& host, uint16_t& port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size()) return false;
  host = s.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  try {
    size_t used = 0;
    long p = std::stol(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1 || p < 0 || p > 65535) return false;
    port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

Config parse(int argc, char** argv) {
  Config c;
  CLI::App app{"anteroom — a virtual waiting room. Docs: README.md and docs/."};
  app.set_config("--config", "", "Read settings from this file (`name = value` per line)");
  app.option_defaults()->always_capture_default();
  auto env = [](const char* name) { return std::string("ANTEROOM_") + name; };

  std::string listen = "127.0.0.1:8080";
  long long tick_ms = 100, grace_s = 5, heartbeat_s = 10, parallel_send = 2048, max_header = 8192, max_body = 16384;
  long long max_conns = 18000, max_conns_ip = 1000, max_queues = 1000;
  double join_rate = 20, join_burst = 40;
  long long wh_window_s = 3600, wh_backoff_max_ms = 60000, wh_timeout_ms = 5000;

  app.add_option("--listen", listen, "Address to serve HTTP on (HOST:PORT; port 0 = any free)")
      ->envname(env("LISTEN"));
  app.add_option("--admin-token", c.server.admin_token,
                 "Bearer token for operator endpoints (empty: they always answer 401)")
      ->envname(env("ADMIN_TOKEN"));
  app.add_option("--token-secret", c.token_secret,
                 "HS256 key for admission tokens; share it with the protected site and every "
                 "anteroom process (empty: a random one, valid until this process exits)")
      ->envname(env("TOKEN_SECRET"));
  app.add_option("--node-id", c.node_id, "Name of this process in logs and metrics")
      ->envname(env("NODE_ID"));
  app.add_option("--demo-queue", c.server.demo_queue,
                 "Create this queue at start and serve its page at /")
      ->envname(env("DEMO_QUEUE"));
  app.add_option("--tick-ms", tick_ms, "Admission tick interval in milliseconds (1..10000)")
      ->envname(env("TICK_MS"));
  app.add_option("--max-queues", max_queues, "Most queues that may exist")
      ->envname(env("MAX_QUEUES"));
  app.add_option("--max-connections", max_conns,
                 "Most open connections (the process's open-file limit is the hard ceiling)")
      ->envname(env("MAX_CONNECTIONS"));
  app.add_option("--max-conns-per-ip", max_conns_ip, "Most open connections per client address (0 = no limit)")
      ->envname(env("MAX_CONNS_PER_IP"));
  app.add_option("--join-rate-per-ip", join_rate, "Joins per second per client address (0 = no limit)")
      ->envname(env("JOIN_RATE_PER_IP"));
  app.add_option("--join-burst-per-ip", join_burst, "Join burst per client address")
      ->envname(env("JOIN_BURST_PER_IP"));
  app.add_flag("--trust-proxy", c.server.trust_proxy,
               "Take the client address from X-Real-IP / X-Forwarded-For (behind a load balancer)")
      ->envname(env("TRUST_PROXY"));
  app.add_option("--max-header-bytes", max_header, "Largest request header block")
      ->envname(env("MAX_HEADER_BYTES"));
  app.add_option("--max-body-bytes", max_body, "Largest request body")
      ->envname(env("MAX_BODY_BYTES"));
  app.add_option("--heartbeat-s", heartbeat_s, "SSE comment heartbeat interval, seconds (1..15)")
      ->envname(env("HEARTBEAT_S"));
  app.add_option("--parallel-send-min", parallel_send,
                 "An update reaching at least this many streams is sent by two threads (0: never)")
      ->envname(env("PARALLEL_SEND_MIN"));
  app.add_option("--shutdown-grace-s", grace_s, "On SIGTERM, exit within this many seconds")
      ->envname(env("SHUTDOWN_GRACE_S"));
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
      ->envname(env("LOG_LEVEL"));
  app.add_option("--redis", c.redis_url, "redis://HOST:PORT[/DB]: distributed mode")
      ->envname(env("REDIS"));
  app.add_option("--webhook-retry-window-s", wh_window_s,
                 "Retry a failing webhook this long, then dead-letter it (1..604800)")
      ->envname(env("WEBHOOK_RETRY_WINDOW_S"));
  app.add_option("--webhook-backoff-max-ms", wh_backoff_max_ms,
                 "Longest wait between two attempts of one webhook (100..3600000)")
      ->envname(env("WEBHOOK_BACKOFF_MAX_MS"));
  app.add_option("--webhook-timeout-ms", wh_timeout_ms, "Deadline of one webhook POST (100..60000)")
      ->envname(env("WEBHOOK_TIMEOUT_MS"));
  app.add_option("--kafka", c.kafka_brokers,
                 "Kafka bootstrap servers (host:port,...): events go outbox → Kafka → Redis "
                 "Pub/Sub (needs --redis)")
      ->envname(env("KAFKA"));
  app.add_option("--kafka-topic", c.kafka_topic, "Kafka topic of queue events")
      ->envname(env("KAFKA_TOPIC"));
  app.add_option("--kafka-group", c.kafka_group, "Kafka consumer group shared by every process")
      ->envname(env("KAFKA_GROUP"));
  app.add_option("--kafka-fetch-wait-ms", c.kafka_fetch_wait_ms,
                 "Longest wait of one Kafka fetch (1..500); a floor on latency with the mock broker")
      ->envname(env("KAFKA_FETCH_WAIT_MS"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    std::exit(2);
  }

  auto fail = [](const std::string& msg) {
    std::cerr << "anteroom: invalid configuration: " << msg << "\n";
    std::exit(2);
  };
  if (!parse_listen(listen, c.server.host, c.server.port))
    fail("--listen must be HOST:PORT with a numeric address, got '" + listen + "'");
  if (tick_ms < 1 || tick_ms > 10000) fail("--tick-ms must be between 1 and 10000");
  if (grace_s < 0 || grace_s > 300) fail("--shutdown-grace-s must be between 0 and 300");
  if (heartbeat_s < 1 || heartbeat_s > 15) fail("--heartbeat-s must be between 1 and 15");
  if (parallel_send < 0) fail("--parallel-send-min must be 0 or more");
  if (max_header < 1024 || max_header > 1 << 20) fail("--max-header-bytes must be between 1024 and 1048576");
  if (max_body < 256 || max_body > 16 << 20) fail("--max-body-bytes must be between 256 and 16777216");
  if (max_conns < 1) fail("--max-connections must be at least 1");
  if (max_conns_ip < 0) fail("--max-conns-per-ip must be 0 or more");
  if (max_queues < 1) fail("--max-queues must be at least 1");
  if (join_rate < 0 || join_burst < 0) fail("--join-rate-per-ip and --join-burst-per-ip must be >= 0");
  if (join_rate > 0 && join_burst < 1) fail("--join-burst-per-ip must be >= 1 when a join rate is set");
  if (!c.server.demo_queue.empty() && !rules::valid_queue_name(c.server.demo_queue))
    fail("--demo-queue must match [a-z0-9][a-z0-9-]{0,63}");
  if (c.log_level != "trace" && c.log_level != "debug" && c.log_level != "info" &&
      c.log_level != "warn" && c.log_level != "error")
    fail("--log-level must be one of trace, debug, info, warn, error");
  if (!c.redis_url.empty() && c.redis_url.rfind("redis://", 0) != 0)
    fail("--redis must look like redis://HOST:PORT[/DB]");

  if (!c.kafka_brokers.empty() && c.redis_url.empty()) fail("--kafka needs --redis");
  if (c.kafka_fetch_wait_ms < 1 || c.kafka_fetch_wait_ms > 500)
    fail("--kafka-fetch-wait-ms must be between 1 and 500");
  if (c.kafka_topic.empty() || c.kafka_group.empty()) fail("--kafka-topic and --kafka-group must not be empty");
  if (wh_window_s < 1 || wh_window_s > 604800) fail("--webhook-retry-window-s must be between 1 and 604800");
  if (wh_backoff_max_ms < 100 || wh_backoff_max_ms > 3600000)
    fail("--webhook-backoff-max-ms must be between 100 and 3600000");
  if (wh_timeout_ms < 100 || wh_timeout_ms > 60000) fail("--webhook-timeout-ms must be between 100 and 60000");
  c.webhooks.retry_window = std::chrono::seconds(wh_window_s);
  c.webhooks.backoff_max = std::chrono::milliseconds(wh_backoff_max_ms);
  c.webhooks.backoff_min = std::min(c.webhooks.backoff_min, c.webhooks.backoff_max);
  c.webhooks.timeout = std::chrono::milliseconds(wh_timeout_ms);
  c.tick = std::chrono::milliseconds(tick_ms);
  c.shutdown_grace = std::chrono::seconds(grace_s);
  c.hub.heartbeat = std::chrono::seconds(heartbeat_s);
  c.hub.parallel_send_min = static_cast<size_t>(parallel_send);
  c.server.max_header_bytes = static_cast<size_t>(max_header);
  c.server.max_body_bytes = static_cast<size_t>(max_body);
  c.server.max_connections = max_conns;
  c.server.max_conns_per_ip = max_conns_ip;
  c.server.join_rate_per_ip = join_rate;
  c.server.join_burst_per_ip = join_burst;
  c.limits.max_queues = max_queues;
  if (c.node_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.node_id = std::string(host) + "-" + std::to_string(getpid());
  }
  return c;
}

}  // namespace anteroom::app
