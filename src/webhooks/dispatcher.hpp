#pragma once
// WebhookDispatcher: turns admitted/expired/completed/abandoned events into POSTs to each of the
// queue's webhooks (SPEC §5), via a WebhookJobStore so that nothing is lost and nothing taken in
// twice. Headers: Idempotency-Key: <event id>, X-Anteroom-Event: <type>, and with a secret
// X-Anteroom-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
//
// Retries: exponential backoff with jitter until a 2xx, or until retry_window after the job was
// taken in — then the job is dead-lettered (GET /v1/queues/{q}/webhooks/dead, re-drivable).
// A slow or dead receiver never blocks others: at most per_receiver POSTs in flight per URL
// host, max_in_flight in all, each with a timeout; everything is asynchronous on the io thread.
//
// Threading: the io_context given. Lifetime: stop() (or the destructor) cancels the claim loop,
// the POSTs in flight and the take-ins still waiting, at once (async::TaskGroup). A POST cut
// short keeps its job leased: it is claimed again when the lease runs out, with the same
// Idempotency-Key.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <unordered_map>

#include "async/task_group.hpp"
#include "core/event_sink.hpp"
#include "metrics/metrics.hpp"
#include "store/queue_store.hpp"
#include "webhooks/job_store.hpp"

namespace anteroom {

struct WebhookOptions {
  std::chrono::milliseconds retry_window{3'600'000};
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{60'000};
  std::chrono::milliseconds timeout{5'000};  // one POST, connect to answer
  int64_t max_in_flight = 64;
  int64_t per_receiver = 4;
  // POST to loopback, link-local, private, unspecified and multicast addresses too
  // (webhooks/address_policy.hpp). Off: such a job is dead-lettered at once, with the reason.
  bool allow_private = false;
};

class WebhookDispatcher final : public EventSink {
 public:
  WebhookDispatcher(boost::asio::io_context& io, QueueStore& store, WebhookJobStore& jobs,
                    WebhookOptions opts, metrics::Registry& m);
  ~WebhookDispatcher() override;

  // EventSink (embedded bus, outbox tailer): takes the event in, without waiting.
  void publish(const Event& e) override;
  // Takes the event in and says whether it is safely stored (the Kafka consumer awaits this
  // before committing the event's offset). Events without webhooks succeed at once. If the
  // awaiting coroutine is cancelled meanwhile, answers `unavailable` (the event is not
  // committed, so it comes again).
  boost::asio::awaitable<Status> accept(Event e);

  void start();
  void stop();

 private:
  boost::asio::awaitable<Result<QueueConfig>> config_of(const std::string& q);
  boost::asio::awaitable<void> take_in(Event e);
  boost::asio::awaitable<void> worker();
  boost::asio::awaitable<void> deliver(WebhookJob job);
  std::string receiver_of(const std::string& url) const;

  QueueStore& store_;
  WebhookJobStore& jobs_;
  WebhookOptions opts_;
  boost::asio::ssl::context tls_;
  struct Cached {
    QueueConfig config;
    std::chrono::steady_clock::time_point at;
    bool valid = false;
    // Set while one read of the config is in flight: the other events of the queue wait for it
    // (a tick admitting 500 reads the config once, not 500 times at once).
    std::shared_ptr<boost::asio::steady_timer> reading;
  };
  std::unordered_map<std::string, Cached> configs_;
  std::unordered_map<std::string, int64_t> in_flight_by_receiver_;
  int64_t in_flight_ = 0;

  metrics::Counter& m_enqueued_;
  metrics::Counter& m_duplicates_;
  metrics::Counter& m_delivered_;
  metrics::Counter& m_failed_attempts_;
  metrics::Counter& m_dead_;
  async::TaskGroup tasks_;  // last: stopped (destroyed) first
};

}  // namespace anteroom
