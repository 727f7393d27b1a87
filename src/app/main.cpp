// Wires the parts together: config → store → bus → hub → dashboard → HTTP server → admission
// ticker.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <functional>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/encoding.hpp"
#include "app/config.hpp"
#include "dashboard/dashboard.hpp"
#include "hub/hub.hpp"
#include "http/server.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/consumer.hpp"
#include "pipeline/local_bus.hpp"
#include "pipeline/pubsub_feed.hpp"
#include "pipeline/relay.hpp"
#include "pipeline/outbox_tailer.hpp"
#include "store/memory_store.hpp"
#include "store/redis_store.hpp"
#include "store/ticker.hpp"
#include "token/jwt.hpp"
#include "webhooks/dispatcher.hpp"
#include "webhooks/memory_job_store.hpp"
#include "webhooks/redis_job_store.hpp"

using namespace anteroom;
namespace asio = boost::asio;

namespace {

std::string random_secret() { return new_ticket_id() + new_ticket_id(); }


// Polls until every connection has finished and `idle()` holds (the relay has handed over what
// it could), or the deadline passed, then stops the loop.
void drain_then_stop(asio::io_context& io, http::Server& server, std::function<bool()> idle,
                     std::chrono::steady_clock::time_point deadline) {
  auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(20));
  t->async_wait([&io, &server, idle, deadline, t](auto) {
    bool done = server.connections() == 0 && idle();
    if (done || std::chrono::steady_clock::now() >= deadline) {
      if (!done)
        spdlog::warn("shutdown deadline reached with {} connections open", server.connections());
      io.stop();
      return;
    }
    drain_then_stop(io, server, idle, deadline);
  });
}

}  // namespace

int main(int argc, char** argv) {
  app::Config cfg = app::parse(argc, argv);
  auto log = spdlog::stderr_color_mt("anteroom");
  spdlog::set_default_logger(log);
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + cfg.node_id + "] %v");

  if (cfg.token_secret.empty()) {
    cfg.token_secret = random_secret();
    spdlog::warn("no --token-secret: using a random one; tokens die with this process");
  }
  if (cfg.server.admin_token.empty())
    spdlog::warn("no --admin-token: operator endpoints will refuse every request");
  asio::io_context io(1);
  metrics::Registry metrics;
  TokenSigner signer(cfg.token_secret);

  // Embedded: MemoryStore → LocalBus → hub. Distributed: RedisStore (outbox in Redis) and an
  // event feed from the outbox to the hub.
  LocalBus bus;
  std::unique_ptr<redis::RedisClient> redis_client;
  std::unique_ptr<QueueStore> store;
  if (!cfg.redis) {
    store = std::make_unique<MemoryStore>(bus, cfg.limits);
  } else {
    redis_client = std::make_unique<redis::RedisClient>(io, *cfg.redis);
    store = std::make_unique<RedisStore>(*redis_client, cfg.limits);
  }
  Hub hub(io, *store, signer, metrics, cfg.hub);
  bus.subscribe(hub);
  // Admission (started below, once the server listens). Built before the event feeds, which
  // reach it through the bus.
  TickerOptions ticking{cfg.tick_every_queue ? "" : cfg.node_id, 0, {}};
  {
    const char* help =
        "Admission tick calls by outcome: ticked, or elsewhere (another process holds the "
        "queue's tick lease)";
    auto& ticked = metrics.counter("ticker_calls_total", help, "outcome=\"ticked\"");
    auto& elsewhere = metrics.counter("ticker_calls_total", help, "outcome=\"elsewhere\"");
    ticking.observe = [&ticked, &elsewhere](std::string_view, bool t) { (t ? ticked : elsewhere).inc(); };
  }
  Ticker ticker(io, *store, cfg.tick, std::move(ticking));
  bus.subscribe(ticker);  // an idle queue's event: tick it again at once
  // Webhook jobs live where the queues live. Embedded and Redis-only: every event on the bus
  // goes to the dispatcher (the job store drops events it took in before). With Kafka: the
  // consumer hands it each event once, before committing.
  std::unique_ptr<WebhookJobStore> jobs;
  if (redis_client) jobs = std::make_unique<RedisJobStore>(*redis_client);
  else jobs = std::make_unique<MemoryJobStore>();
  WebhookDispatcher webhooks(io, *store, *jobs, cfg.webhooks, metrics);
  if (cfg.kafka.brokers.empty()) bus.subscribe(webhooks);
  webhooks.start();
  // Redis only: every process tails the outbox. With Kafka: the seed's topology, lossless —
  // outbox → relay → Kafka → one consumer per event → Redis Pub/Sub → every process's hub,
  // the event's bytes untouched all the way (src/pipeline/README.md).
  std::unique_ptr<OutboxTailer> tailer;
  std::unique_ptr<Relay> relay;
  std::unique_ptr<EventConsumer> consumer;
  std::unique_ptr<PubSubFeed> feed;
  if (redis_client && cfg.kafka.brokers.empty()) {
    tailer = std::make_unique<OutboxTailer>(
        io, *cfg.redis, bus, metrics, [&hub] { hub.resync_all(); },
        [&hub](const std::string& q) { hub.resync_if_known(q); });
    tailer->start();
  } else if (redis_client) {
    try {
      relay = std::make_unique<Relay>(io, *cfg.redis, cfg.kafka, cfg.node_id, metrics);
      consumer =
          std::make_unique<EventConsumer>(io, *redis_client, cfg.kafka, cfg.node_id, metrics);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "anteroom: invalid configuration: %s\n", e.what());
      return 2;
    }
    // (into the bus: the hub and the ticker; webhooks come from the consumer instead)
    feed = std::make_unique<PubSubFeed>(io, *cfg.redis, bus, metrics, [&hub] { hub.resync_all(); });
    consumer->on_event([&webhooks](Event e) { return webhooks.accept(std::move(e)); });
    feed->start();
    relay->start();
    consumer->start();
  }
  // The operator's dashboard: the fleet's rows live beside the queues (the hash aq:fleet in
  // distributed mode). What this process knows of itself comes from the hub and the server at
  // each sample; the server is built after the dashboard (it serves it), hence the pointer.
  std::unique_ptr<dashboard::FleetBoard> fleet =
      redis_client ? dashboard::redis_fleet(*redis_client) : dashboard::memory_fleet();
  cfg.dashboard.node_id = cfg.node_id;
  cfg.dashboard.mode = !redis_client ? "embedded" : relay ? "redis+kafka" : "redis";
  http::Server* server_ptr = nullptr;
  dashboard::LocalProbe probe{
      [&hub] { return hub.streams_by_queue(); },
      [&server_ptr] { return server_ptr ? server_ptr->connections() : int64_t{0}; }};
  dashboard::Dashboard dash(io, *store, *fleet, metrics, std::move(probe), cfg.dashboard);
  http::Server server(io, cfg.server, *store, hub, signer, metrics, dash, jobs.get());
  server_ptr = &server;

  if (!cfg.server.demo_queue.empty()) {
    ConfigPatch demo;
    demo.admit_per_s = 2;
    demo.max_active = 20;
    demo.session_ttl_s = 120;
    asio::co_spawn(io, store->put_queue(cfg.server.demo_queue, demo, wall_ms()), asio::detached);
  }

  uint16_t port;
  try {
    port = server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "anteroom: cannot listen on %s:%u: %s\n", cfg.server.host.c_str(),
                 cfg.server.port, e.what());
    return 2;
  }
  ticker.start();
  dash.start();

  bool relay_stopped = false;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down (grace {}s)", sig, cfg.shutdown_grace.count());
    ticker.stop();
    // Before the server drains: its watchers' connections end now, so they do not hold the
    // drain until the grace runs out.
    dash.stop();
    webhooks.stop();
    if (tailer) tailer->stop();
    if (consumer) consumer->stop();
    if (feed) feed->stop();
    if (relay)
      asio::co_spawn(io, relay->stop(cfg.shutdown_grace / 2),
                     [&relay_stopped](std::exception_ptr) { relay_stopped = true; });
    else relay_stopped = true;
    server.stop();
    drain_then_stop(io, server, [&relay_stopped] { return relay_stopped; },
                    std::chrono::steady_clock::now() + cfg.shutdown_grace);
  });

  std::string host = cfg.server.host.find(':') != std::string::npos ? "[" + cfg.server.host + "]"
                                                                    : cfg.server.host;
  std::printf("anteroom listening on http://%s:%u\n", host.c_str(), port);
  std::fflush(stdout);
  spdlog::info("{} mode, node {}, tick {}ms{}",
               !redis_client ? "embedded" : relay ? "distributed (redis + kafka)" : "distributed (redis)",
               cfg.node_id, cfg.tick.count(),
               !cfg.redis ? std::string()
                          : std::string(cfg.redis->cluster ? ", Redis Cluster" : "") +
                                (cfg.redis->wait_replicas > 0
                                     ? ", writes wait for " +
                                           std::to_string(cfg.redis->wait_replicas) + " replica(s)"
                                     : std::string()));
  io.run();
  spdlog::info("stopped");
  return 0;
}
