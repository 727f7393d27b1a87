#pragma once
// Every setting of the binary, declared once (name, default, description, validation) in
// config.cpp. Each flag --foo-bar can also come from the environment (ANTEROOM_FOO_BAR) or a
// config file (--config FILE, `foo-bar = value` lines).
#include <chrono>
#include <string>

#include "http/server.hpp"
#include "hub/hub.hpp"
#include "store/queue_store.hpp"
#include "webhooks/dispatcher.hpp"

namespace anteroom::app {

struct Config {
  http::ServerConfig server;
  HubConfig hub;
  StoreLimits limits;
  WebhookOptions webhooks;
  std::string token_secret;
  std::string node_id;
  std::chrono::milliseconds tick{100};
  std::chrono::seconds shutdown_grace{5};
  std::string log_level = "info";
  std::string redis_url;  // distributed mode
  std::string kafka_brokers;  // the outbox → Kafka → Pub/Sub pipeline (needs redis_url)
  std::string kafka_topic = "queueing-system";
  std::string kafka_group = "queue-event-group";
  int kafka_fetch_wait_ms = 10;
};

// Parses argv (+ env + config file). On --help prints usage and exits 0; on invalid settings
// prints the reason to stderr and exits 2.
Config parse(int argc, char** argv);

}  // namespace anteroom::app
