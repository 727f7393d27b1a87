#include "app/config.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <sstream>

#include "core/rules.hpp"

namespace anteroom::app {

namespace {

constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();
using Check = std::function<std::optional<std::string>(const std::string&)>;

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

template <class T>
std::optional<T> number(const std::string& s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

template <class T>
std::string show(T v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// The bound as the refusal says it ("between 1 and 15", "at least 1", "0 or more").
template <class T>
std::string bound_text(T lo, T hi) {
  if (hi != static_cast<T>(kNoMax)) return "between " + show(lo) + " and " + show(hi);
  return lo == 0 ? "0 or more" : "at least " + show(lo);
}

template <class T>
std::string help_with_bound(const std::string& help, T lo, T hi) {
  if (hi != static_cast<T>(kNoMax)) return help + " (" + show(lo) + ".." + show(hi) + ")";
  return help + " (" + (lo == 0 ? std::string("0 or more") : ">= " + show(lo)) + ")";
}

// Reads a whole number within [lo, hi] into `out`, or says why it cannot.
std::optional<std::string> read_int(const std::string& flag, const std::string& v, int64_t lo,
                                    int64_t hi, int64_t& out) {
  auto n = number<int64_t>(v);
  if (!n) return flag + " must be an integer, got '" + v + "'";
  if (*n < lo || *n > hi) return flag + " must be " + bound_text(lo, hi);
  out = *n;
  return std::nullopt;
}

// Row makers, one per kind of value (as Redis's createIntConfig, createStringConfig...).

Setting text(const char* name, std::string& field, const char* help, Check check = {}) {
  return {name, help, field, "TEXT", nullptr, [&field, check](const std::string& v) {
            if (check)
              if (auto why = check(v)) return why;
            field = v;
            return std::optional<std::string>{};
          }};
}

// An integer field of any integral type, given and bounded in its own unit.
template <class Int>
Setting integer(const char* name, Int& field, int64_t lo, int64_t hi, const char* help) {
  std::string flag = std::string("--") + name;
  return {name, help_with_bound(std::string(help), lo, hi), show(static_cast<int64_t>(field)),
          "INT", nullptr,
          [&field, lo, hi, flag](const std::string& v) -> std::optional<std::string> {
            int64_t n = 0;
            if (auto why = read_int(flag, v, lo, hi, n)) return why;
            field = static_cast<Int>(n);
            return std::nullopt;
          }};
}

// A duration field given as a whole number of `Unit` (the unit is in the name: -ms, -s).
template <class Unit, class Duration>
Setting duration(const char* name, Duration& field, int64_t lo, int64_t hi, const char* help) {
  std::string flag = std::string("--") + name;
  return {name, help_with_bound(std::string(help), lo, hi),
          show(std::chrono::duration_cast<Unit>(field).count()), "INT", nullptr,
          [&field, lo, hi, flag](const std::string& v) -> std::optional<std::string> {
            int64_t n = 0;
            if (auto why = read_int(flag, v, lo, hi, n)) return why;
            field = std::chrono::duration_cast<Duration>(Unit(n));
            return std::nullopt;
          }};
}

// A real number with a floor (no ceiling).
Setting real(const char* name, double& field, double lo, const char* help) {
  std::string flag = std::string("--") + name;
  const double hi = static_cast<double>(kNoMax);
  return {name, help_with_bound(std::string(help), lo, hi), show(field), "NUMBER", nullptr,
          [&field, lo, hi, flag](const std::string& v) -> std::optional<std::string> {
            auto n = number<double>(v);
            if (!n) return flag + " must be a number, got '" + v + "'";
            if (*n < lo) return flag + " must be " + bound_text(lo, hi);
            field = *n;
            return std::nullopt;
          }};
}

Setting flag(const char* name, bool& field, const char* help) {
  return {name, help, field ? "true" : "false", "", &field, nullptr};
}

Check not_empty(const char* name) {
  return [name](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return std::string("--") + name + " must not be empty";
    return std::nullopt;
  };
}

}  // namespace

std::string env_name(std::string_view setting) {
  std::string env = "ANTEROOM_";
  for (char ch : setting) env += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return env;
}

std::vector<Setting> settings(Config& c) {
  auto& s = c.server;
  auto& w = c.webhooks;
  std::vector<Setting> t;
  Setting listen{"listen", "Address to serve HTTP on (HOST:PORT; port 0 = any free)",
                 s.host + ":" + std::to_string(s.port), "HOST:PORT", nullptr,
                 [&s](const std::string& v) -> std::optional<std::string> {
                   if (parse_listen(v, s.host, s.port)) return std::nullopt;
                   return "--listen must be HOST:PORT with a numeric address, got '" + v + "'";
                 }};
  t.push_back(std::move(listen));
  t.push_back(text("admin-token", s.admin_token,
                   "Bearer token for operator endpoints (empty: they always answer 401)"));
  t.push_back(text("token-secret", c.token_secret,
                   "HS256 key for admission tokens; share it with the protected site and every "
                   "anteroom process (empty: a random one, valid until this process exits)"));
  t.push_back(text("node-id", c.node_id, "Name of this process in logs and metrics"));
  t.push_back(text("demo-queue", s.demo_queue, "Create this queue at start and serve its page at /",
                   [](const std::string& v) -> std::optional<std::string> {
                     if (v.empty() || rules::valid_queue_name(v)) return std::nullopt;
                     return "--demo-queue must match [a-z0-9][a-z0-9-]{0,63}";
                   }));
  t.push_back(duration<std::chrono::milliseconds>("tick-ms", c.tick, 1, 10000,
                                                  "Admission tick interval in milliseconds"));
  t.push_back(flag("tick-every-queue", c.tick_every_queue,
                   "Tick every queue in this process, without the tick lease that lets one process "
                   "at a time tick a queue (docs/distributed.md); for measurements"));
  t.push_back(integer("max-queues", c.limits.max_queues, 1, kNoMax, "Most queues that may exist"));
  t.push_back(integer("max-connections", s.max_connections, 1, kNoMax,
                      "Most open connections (the process's open-file limit is the hard ceiling)"));
  t.push_back(integer("max-conns-per-ip", s.max_conns_per_ip, 0, kNoMax,
                      "Most open connections per client address (event streams included); "
                      "0: no limit"));
  t.push_back(integer("conn-reserve", s.conn_reserve, 0, kNoMax,
                      "Connections event streams cannot take, kept for ordinary requests and "
                      "health checks; 0: max(64, 5% of --max-connections), at most half of it"));
  t.push_back(integer("ipv6-prefix-len", s.ipv6_prefix_len, 32, 128,
                      "IPv6 clients are counted per address prefix of this many bits (per-address "
                      "connections and join rate)"));
  t.push_back(integer("streams-per-ticket", c.hub.streams_per_ticket, 1, 100,
                      "Open event streams per ticket in this process; one more replaces the "
                      "oldest"));
  t.push_back(real("join-rate-per-ip", s.join_rate_per_ip, 0,
                   "Joins per second per client address; 0: no limit"));
  t.push_back(real("join-burst-per-ip", s.join_burst_per_ip, 0,
                   "Join burst per client address; at least 1 when a join rate is set"));
  t.push_back(flag("trust-proxy", s.trust_proxy,
                   "Behind one proxy: the same as --trust-proxy-hops 1 (docs/proxy.md)"));
  t.push_back(integer("trust-proxy-hops", s.proxy.hops, 0, 32,
                      "Proxies in front: the client is this many entries from the right of "
                      "X-Forwarded-For; 0: see --trusted-proxies"));
  Setting trusted{"trusted-proxies",
                  "Proxy addresses, CIDR,...: only these peers' forwarding headers are "
                  "believed; without --trust-proxy-hops X-Forwarded-For is walked from the right "
                  "past them; their connections skip --max-conns-per-ip",
                  "", "CIDR,...", nullptr,
                  [&s](const std::string& v) -> std::optional<std::string> {
                    if (v.empty()) {
                      s.proxy.trusted.clear();
                      return std::nullopt;
                    }
                    std::string why;
                    auto list = http::parse_cidr_list(v, why);
                    if (!list) return "--trusted-proxies: " + why;
                    s.proxy.trusted = std::move(*list);
                    return std::nullopt;
                  }};
  t.push_back(std::move(trusted));
  t.push_back(text("real-ip-header", s.proxy.real_ip_header,
                   "Header naming the client (e.g. X-Real-IP), believed from --trusted-proxies "
                   "only; empty: none",
                   [](const std::string& v) -> std::optional<std::string> {
                     const std::string_view tchar = "!#$%&'*+-.^_`|~";
                     for (unsigned char ch : v)
                       if (!std::isalnum(ch) && tchar.find(static_cast<char>(ch)) == tchar.npos)
                         return "--real-ip-header must be a header name, got '" + v + "'";
                     return std::nullopt;
                   }));
  t.push_back(integer("max-header-bytes", s.max_header_bytes, 1024, 1 << 20,
                      "Largest request header block"));
  t.push_back(integer("max-body-bytes", s.max_body_bytes, 256, 16 << 20, "Largest request body"));
  t.push_back(duration<std::chrono::seconds>("heartbeat-s", c.hub.heartbeat, 1, 15,
                                             "SSE comment heartbeat interval, seconds"));
  t.push_back(integer("parallel-send-min", c.hub.parallel_send_min, 0, kNoMax,
                      "An update reaching at least this many streams is sent by two threads; "
                      "0: never"));
  t.push_back(duration<std::chrono::seconds>("shutdown-grace-s", c.shutdown_grace, 0, 300,
                                             "On SIGTERM, exit within this many seconds"));
  t.push_back(duration<std::chrono::milliseconds>(
      "dashboard-sample-ms", c.dashboard.sample, 0, 60000,
      "The operator's dashboard samples every queue this often, milliseconds; 0: off"));
  t.push_back(text("log-level", c.log_level, "trace, debug, info, warn, error",
                   [](const std::string& v) -> std::optional<std::string> {
                     for (const char* l : {"trace", "debug", "info", "warn", "error"})
                       if (v == l) return std::nullopt;
                     return "--log-level must be one of trace, debug, info, warn, error";
                   }));
  // Parsed here, once: main gets the RedisOptions.
  Setting redis{"redis",
                "redis://HOST:PORT[/DB] (one server) or "
                "redis-cluster://HOST:PORT[,HOST:PORT...] (Redis Cluster seed nodes): "
                "distributed mode",
                "", "URL", nullptr,
                [&c](const std::string& v) -> std::optional<std::string> {
                  if (v.empty()) {
                    c.redis.reset();
                    return std::nullopt;
                  }
                  if (v.rfind("redis://", 0) != 0 && v.rfind("redis-cluster://", 0) != 0)
                    return "--redis must look like redis://HOST:PORT[/DB] or "
                           "redis-cluster://HOST:PORT[,HOST:PORT...]";
                  auto opts = redis::RedisOptions::from_url(v);
                  if (!opts) return "--redis: " + opts.error().message;
                  c.redis = *opts;
                  return std::nullopt;
                }};
  t.push_back(std::move(redis));
  t.push_back(integer("redis-wait-replicas", c.redis_wait_replicas, 0, 16,
                      "Each write waits until this many replicas of its Redis master have it "
                      "(WAIT), else fails 503: no acknowledged write lost in a failover. Needs "
                      "that many live replicas per master; 0: off"));
  t.push_back(duration<std::chrono::milliseconds>(
      "redis-wait-timeout-ms", c.redis_wait_timeout, 1, 60000,
      "Longest wait for the replicas of --redis-wait-replicas, milliseconds"));
  t.push_back(duration<std::chrono::seconds>(
      "webhook-retry-window-s", w.retry_window, 1, 604800,
      "Retry a failing webhook this long, then dead-letter it"));
  t.push_back(duration<std::chrono::milliseconds>(
      "webhook-backoff-max-ms", w.backoff_max, 100, 3600000,
      "Longest wait between two attempts of one webhook"));
  t.push_back(duration<std::chrono::milliseconds>("webhook-timeout-ms", w.timeout, 100, 60000,
                                                  "Deadline of one webhook POST"));
  t.push_back(flag("webhook-allow-private", w.allow_private,
                   "Let webhooks POST to loopback, link-local, private, unspecified and "
                   "multicast addresses (refused by default: SSRF)"));
  t.push_back(text("kafka", c.kafka.brokers,
                   "Kafka bootstrap servers (host:port,...): events go outbox → Kafka → Redis "
                   "Pub/Sub (needs --redis)"));
  t.push_back(text("kafka-topic", c.kafka.topic, "Kafka topic of queue events",
                   not_empty("kafka-topic")));
  t.push_back(text("kafka-group", c.kafka.group, "Kafka consumer group shared by every process",
                   not_empty("kafka-group")));
  t.push_back(integer("kafka-fetch-wait-ms", c.kafka.fetch_wait_ms, 1, 500,
                      "Longest wait of one Kafka fetch; a floor on latency with the mock broker"));
  return t;
}

std::variant<Config, Refusal> parse_args(int argc, const char* const* argv) {
  Config c;
  std::vector<Setting> table = settings(c);
  CLI::App app{"anteroom — a virtual waiting room. Docs: README.md and docs/."};
  app.set_config("--config", "", "Read settings from this file (`name = value` per line)");
  // A key the table does not have is refused, not ignored: a typo in the file (tick_ms for
  // tick-ms) must not leave a setting silently at its default during a sale.
  app.allow_config_extras(false);
  app.option_defaults()->always_capture_default();
  // Each value arrives as text (from a flag, the environment or the file, as CLI11 ranks them)
  // and the row converts and checks it after parsing: one message format for every setting.
  std::vector<std::string> given(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const Setting& row = table[i];
    if (row.flag) {
      app.add_flag("--" + row.name, *row.flag, row.help)->envname(env_name(row.name));
    } else {
      given[i] = row.fallback;
      app.add_option("--" + row.name, given[i], row.help)
          ->envname(env_name(row.name))
          ->type_name(row.type);
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    int code = app.exit(e, out, err);
    if (code == 0) return Refusal{0, out.str()};  // --help
    return Refusal{2, err.str()};
  }

  auto refuse = [](const std::string& why) {
    return Refusal{2, "anteroom: invalid configuration: " + why + "\n"};
  };
  // A value equal to the default is the default: it needs no conversion (and no bound check).
  for (size_t i = 0; i < table.size(); ++i) {
    if (table[i].flag || given[i] == table[i].fallback) continue;
    if (auto why = table[i].apply(given[i])) return refuse(*why);
  }
  // Relations between settings (a row checks only its own value).
  if (c.server.join_rate_per_ip > 0 && c.server.join_burst_per_ip < 1)
    return refuse("--join-burst-per-ip must be >= 1 when a join rate is set");
  if (!c.kafka.brokers.empty() && !c.redis) return refuse("--kafka needs --redis");
  if (c.redis_wait_replicas > 0 && !c.redis) return refuse("--redis-wait-replicas needs --redis");
  if (c.redis) {
    c.redis->wait_replicas = c.redis_wait_replicas;
    c.redis->wait_timeout = c.redis_wait_timeout;
  }
  if (c.server.conn_reserve >= c.server.max_connections)
    return refuse("--conn-reserve must be below --max-connections");
  // Without a list every peer would be believed: anyone could name any client.
  if (!c.server.proxy.real_ip_header.empty() && c.server.proxy.trusted.empty())
    return refuse("--real-ip-header needs --trusted-proxies");
  c.webhooks.backoff_min = std::min(c.webhooks.backoff_min, c.webhooks.backoff_max);
  // One setting, read at two places: the PUT that names a webhook and the POST that sends it.
  c.server.webhook_allow_private = c.webhooks.allow_private;
  if (c.node_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.node_id = std::string(host) + "-" + std::to_string(getpid());
  }
  return c;
}

Config parse(int argc, char** argv) {
  auto parsed = parse_args(argc, argv);
  if (auto* c = std::get_if<Config>(&parsed)) return std::move(*c);
  const auto& r = std::get<Refusal>(parsed);
  (r.exit_code == 0 ? std::cout : std::cerr) << r.message << std::flush;
  std::exit(r.exit_code);
}

}  // namespace anteroom::app
