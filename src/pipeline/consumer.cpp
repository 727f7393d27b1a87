#include "pipeline/consumer.hpp"

#include <spdlog/spdlog.h>
#include <stdexcept>

#include "core/event_codec.hpp"
#include "store/redis/keys.hpp"

namespace anteroom {

namespace asio = boost::asio;

EventConsumer::EventConsumer(asio::io_context& io, redis::RedisClient& redis,
                             kafka::KafkaOptions kopts, std::string node_id, metrics::Registry& m)
    : redis_(redis),
      kopts_(std::move(kopts)),
      m_consumed_(m.counter("consumer_events_total", "Events consumed from Kafka and re-published")),
      m_publish_errors_(m.counter("consumer_publish_errors_total", "Failed PUBLISHes (retried)")),
      m_rebalances_(m.counter("consumer_rebalances_total", "Consumer group rebalances seen")),
      m_lag_(m.gauge("consumer_lag", "Messages behind the end of the assigned partitions")),
      m_assigned_(m.gauge("consumer_assigned_partitions", "Kafka partitions assigned to this member")),
      tasks_(io.get_executor()) {
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
  tasks_.stop();
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
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, kopts_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) spdlog::error("consumer: subscribe failed: {}", rd_kafka_err2str(e));
  tasks_.spawn(loop());
}

void EventConsumer::stop() {
  if (closed_) return;
  tasks_.stop();
  rd_kafka_consumer_close(rk_);  // leaves the group: partitions move on at once
  closed_ = true;
}

namespace {
using Held = std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)>;
// Most events in one PUBLISH (a message of ~100-byte events: ~25 KB).
constexpr size_t kPublishBatch = 256;

std::chrono::milliseconds backoff(int attempt) {
  return std::chrono::milliseconds(std::min(1000, 20 << std::min(attempt, 6)));
}
}  // namespace

asio::awaitable<void> EventConsumer::loop() {
  auto next_lag = std::chrono::steady_clock::now();
  for (bool more = true; more;) {  // not for (;;): GCC 12 loses `this` (see README)
    co_await waker_->wait(std::chrono::milliseconds(100));
    if (co_await async::cancelled()) co_return;
    if (std::chrono::steady_clock::now() >= next_lag) {
      next_lag += std::chrono::seconds(1);
      update_lag();
    }
    // What Kafka has for us now, in batches of at most kPublishBatch events: one PUBLISH
    // each (the events one per line), so a busy io thread (a large fan-out between two round
    // trips) costs a round trip per batch, not per event.
    for (bool more_now = true; more_now;) {
      std::vector<Held> batch;
      std::string payload;
      while (batch.size() < kPublishBatch) {
        rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk_, 0);
        if (!msg) break;
        Held hold(msg, rd_kafka_message_destroy);
        if (msg->err) {
          if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            spdlog::warn("consumer: {}", rd_kafka_message_errstr(msg));
          continue;
        }
        // The event's bytes as the store's script encoded them: re-broadcast untouched.
        if (!payload.empty()) payload += '\n';
        payload.append(static_cast<const char*>(msg->payload), msg->len);
        batch.push_back(std::move(hold));
      }
      more_now = batch.size() == kPublishBatch;
      if (batch.empty()) break;
      // Publish until it succeeds: skipping would lose the events for every process.
      for (int attempt = 0;; ++attempt) {
        std::vector<std::string> argv{"PUBLISH", std::string(redis_keys::kEventsChannel), payload};
        auto r = co_await redis_.command(std::move(argv));
        if (co_await async::cancelled()) co_return;
        if (r && !r->is_error()) break;
        m_publish_errors_.inc();
        bool slept = co_await async::sleep_for(backoff(attempt));
        if (!slept) co_return;
      }
      for (auto& hold : batch) {
        rd_kafka_message_t* msg = hold.get();
        if (hook_) {
          // Decoded here, once, for this process's consumers of whole events (webhooks).
          auto e = decode_event(
              std::string_view(static_cast<const char*>(msg->payload), msg->len));
          if (!e) spdlog::error("consumer: undecodable event: {}", e.error().message);
          for (int attempt = 0; e; ++attempt) {
            auto st = co_await hook_(*e);
            if (co_await async::cancelled()) co_return;
            if (st) break;
            bool slept = co_await async::sleep_for(backoff(attempt));
            if (!slept) co_return;
          }
        }
        rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset);
        m_consumed_.inc();
      }
    }
  }
}

}  // namespace anteroom
