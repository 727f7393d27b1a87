#pragma once
// Every setting of the binary, declared once: one row of the table in config.cpp (settings())
// gives its name, help, bound and where it goes in Config. The row is the flag --foo-bar, the
// environment variable ANTEROOM_FOO_BAR and the config-file key `foo-bar` (--config FILE). The
// default is the one written in the struct the setting lands in (ServerConfig, HubConfig,
// KafkaOptions, WebhookOptions, StoreLimits, dashboard::Options or Config below), never repeated
// in the table.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dashboard/dashboard.hpp"
#include "http/server.hpp"
#include "hub/hub.hpp"
#include "pipeline/kafka_io.hpp"
#include "store/queue_store.hpp"
#include "store/redis/redis_client.hpp"
#include "webhooks/dispatcher.hpp"

namespace anteroom::app {

struct Config {
  http::ServerConfig server;
  HubConfig hub;
  StoreLimits limits;
  WebhookOptions webhooks;
  std::optional<redis::RedisOptions> redis;  // set: distributed mode (parsed from --redis)
  // --redis-wait-replicas / --redis-wait-timeout-ms: copied into `redis` after parsing (the
  // URL row makes a fresh RedisOptions).
  int redis_wait_replicas = 0;
  std::chrono::milliseconds redis_wait_timeout{1000};
  kafka::KafkaOptions kafka;  // brokers set: outbox → Kafka → Pub/Sub (needs redis)
  std::string token_secret;   // empty: main makes a random one
  std::string node_id;        // empty before parse: parse() names it <host>-<pid>
  std::chrono::milliseconds tick{100};
  // --tick-every-queue: tick every queue in this process, with no tick lease (store/Ticker):
  // how every process ticked before the lease; kept to measure the difference (bench --scale).
  bool tick_every_queue = false;
  std::chrono::seconds shutdown_grace{5};
  std::string log_level = "info";
  // The operator's dashboard (--dashboard-sample-ms → sample; main sets node_id and mode).
  dashboard::Options dashboard;
};

// One row of the settings table. `apply` turns the text given (flag, env or file) into the
// Config field(s) the row points into, or returns why it cannot (bound, syntax). A flag row
// (`flag` set) takes no value.
struct Setting {
  std::string name;      // flag --<name>, file key <name>, env env_name(name)
  std::string help;      // for --help; the bound is appended from the row
  std::string fallback;  // the default as text, read from the Config the row points into
  std::string type;      // for --help: TEXT, INT, NUMBER
  bool* flag = nullptr;
  std::function<std::optional<std::string>(const std::string&)> apply;
};

// The table, bound to `c`: each row reads its default from `c` and applies into `c`.
std::vector<Setting> settings(Config& c);

// "foo-bar" → "ANTEROOM_FOO_BAR".
std::string env_name(std::string_view setting);

// What parse_args answers instead of a Config: exit 0 with the usage (--help), or exit 2 with
// the reason the settings were refused.
struct Refusal {
  int exit_code;
  std::string message;
};

// Parses argv (+ env + config file) without printing or exiting.
std::variant<Config, Refusal> parse_args(int argc, const char* const* argv);

// parse_args for main: on --help prints usage and exits 0; on invalid settings prints the reason
// to stderr and exits 2.
Config parse(int argc, char** argv);

}  // namespace anteroom::app
