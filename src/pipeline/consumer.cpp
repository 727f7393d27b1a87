#include "pipeline/consumer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <stdexcept>

#include "pipeline/event_codec.hpp"

namespace anteroom {

namespace asio = boost::asio;

EventConsumer::EventConsumer(asio::io_context& io, redis::RedisClient& redis,
                             kafka::KafkaOptions kopts, std::string node_id, metrics::Registry& m)
    : io_(io),
      redis_(redis),
      kopts_(std::move(kopts)),
      m_consumed_(m.counter("consumer_events_total", "Events consumed from Kafka and re-published")),
      m_publish_errors_(m.counter("consumer_publish_errors_total", "Failed PUBLISHes (retried)")),
      m_rebalances_(m.counter("consumer_rebalances_total", "Consumer group rebalances seen")),
      m_lag_(m.gauge("consumer_lag", "Messages behind the end of the assigned partitions")),
      m_assigned_(m.gauge("consumer_assigned_partitions", "Kafka partitions assigned to this member")) {
  auto conf = kafka::make_conf({{"bootstrap.servers", kopts_.brokers},
                                {"group.id", kopts_.group},
                                {"client.id", node_id},
                                {"enable.auto.commit", "true"},
                                {"auto.commit.interval.ms", "200"},
                                {"enable.auto.offset.store", "false"},
                                {"auto.offset.reset", "earliest"},
                                {"session.timeout.ms", "6000"},
                                {"heartbeat.interval.ms", "500"},
                                {"fetch.wait.max.ms", std::to_string(kopts_.fetch_wait_ms)},
                                {"reconnect.backoff.max.ms", "1000"},  // as the relay's
                                {"statistics.interval.ms", "0"},
                                {"log_level", "4"}});
  if (!conf) throw std::runtime_error(conf.error().message);
  rd_kafka_conf_set_rebalance_cb(*conf, &EventConsumer::on_rebalance);
  rd_kafka_conf_set_opaque(*conf, this);
  char errstr[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, errstr, sizeof errstr);
  if (!rk_) throw std::runtime_error(std::string("kafka consumer: ") + errstr);
  rd_kafka_poll_set_consumer(rk_);
  waker_ = std::make_unique<kafka::QueueWaker>(io, rd_kafka_queue_get_consumer(rk_));
}

EventConsumer::~EventConsumer() {
  *running_ = false;
  waker_.reset();
  if (rk_) {
    if (!closed_) rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
}

void EventConsumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<EventConsumer*>(opaque);
  self->m_rebalances_.inc();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(rk, parts);
    self->m_assigned_.set(parts->cnt);
    spdlog::info("consumer: assigned {} partitions", parts->cnt);
  } else {
    rd_kafka_assign(rk, nullptr);
    self->m_assigned_.set(0);
  }
}

// Sum over assigned partitions of (high watermark - position), from librdkafka's cached values.
void EventConsumer::update_lag() {
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(rk_, &parts) || !parts) return;
  rd_kafka_position(rk_, parts);
  int64_t lag = 0;
  for (int i = 0; i < parts->cnt; ++i) {
    int64_t lo = 0, hi = 0;
    auto& p = parts->elems[i];
    if (rd_kafka_get_watermark_offsets(rk_, p.topic, p.partition, &lo, &hi) == 0 && p.offset >= 0)
      lag += std::max<int64_t>(0, hi - p.offset);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  m_lag_.set(static_cast<double>(lag));
}

void EventConsumer::start() {
  *running_ = true;
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, kopts_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) spdlog::error("consumer: subscribe failed: {}", rd_kafka_err2str(e));
  asio::co_spawn(io_, loop(), asio::detached);
}

void EventConsumer::stop() {
  if (!*running_) return;
  *running_ = false;
  waker_->cancel();
  rd_kafka_consumer_close(rk_);  // leaves the group: partitions move on at once
  closed_ = true;
}

asio::awaitable<void> EventConsumer::loop() {
  auto running = running_;
  asio::steady_timer backoff(io_);
  auto next_lag = std::chrono::steady_clock::now();
  while (*running) {
    co_await waker_->wait(std::chrono::milliseconds(100));
    if (!*running) co_return;
    if (std::chrono::steady_clock::now() >= next_lag) {
      next_lag += std::chrono::seconds(1);
      update_lag();
    }
    while (*running) {
      rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk_, 0);
      if (!msg) break;
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> hold(msg, rd_kafka_message_destroy);
      if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
          spdlog::warn("consumer: {}", rd_kafka_message_errstr(msg));
        continue;
      }
      std::string payload(static_cast<const char*>(msg->payload), msg->len);
      // Publish until it succeeds: skipping would lose the event for every process.
      for (int attempt = 0; *running; ++attempt) {
        std::vector<std::string> argv{"PUBLISH", kEventsChannel, payload};
        auto r = co_await redis_.command(std::move(argv));
        if (r && !r->is_error()) break;
        m_publish_errors_.inc();
        backoff.expires_after(std::chrono::milliseconds(std::min(1000, 20 << std::min(attempt, 6))));
        co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (!*running) co_return;
      if (hook_) {
        auto e = decode_event(payload);
        for (int attempt = 0; e && *running; ++attempt) {
          auto s = co_await hook_(*e);
          if (s) break;
          backoff.expires_after(std::chrono::milliseconds(std::min(1000, 20 << std::min(attempt, 6))));
          co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        if (!*running) co_return;
      }
      rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset);
      m_consumed_.inc();
    }
  }
}

}  // namespace anteroom
