#pragma once
// The operator's dashboard's figures (SPEC §9, docs/dashboard.md): once a second every queue's
// state as the fleet sees it, the last 15 minutes of it per queue, and a row per process of the
// fleet; served to the admin page as one JSON frame a second on an admin event stream, as a
// queue's history, and to Prometheus as per-queue series.
//
// One sample: store.list_queues() (the fleet's shared figures: waiting, active, totals) → rates
// from the totals' differences since the previous sample; this process's row (its open streams
// per queue from the LocalProbe, its pipeline figures from the metrics registry) published to the
// FleetBoard, and every live process's row read back from it; the queue's `streams` is the sum
// over the live rows. The frame is encoded once and written to every watcher.
//
// Threading: everything on the one io_context given at construction.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/types.hpp"
#include "metrics/metrics.hpp"
#include "store/queue_store.hpp"

namespace anteroom::redis {
class RedisClient;
}

namespace anteroom::dashboard {

// One second of one queue, as the fleet sees it.
struct Point {
  int64_t t = 0;  // Unix seconds of the sample
  int64_t waiting = 0;
  int64_t active = 0;
  double admitted_per_s = 0;   // Δadmitted_total / Δt since the previous sample
  double joins_per_s = 0;      // Δjoined_total / Δt
  double abandoned_per_s = 0;  // Δabandoned_total / Δt
  int64_t oldest_wait_s = 0;   // now − oldest_joined_ms (0 when nobody waits)
  int64_t eta_last_s = -1;     // waiting ÷ admitted/s over the last 10 s; -1: no admissions
  int64_t streams = 0;         // open SSE streams of the queue, summed over live processes
};

// One process of the fleet, as it published itself.
struct ProcessRow {
  std::string node;  // --node-id
  Millis started_ms = 0;
  Millis seen_ms = 0;  // when it last published (a row older than Options::stale_ms is stale)
  int64_t streams = 0;        // open visitor SSE streams
  int64_t admin_streams = 0;  // open admin event streams
  int64_t connections = 0;    // open HTTP connections
  // The pipeline's figures (metrics of the same names); nullopt where this process has no such
  // part (embedded; Redis without Kafka has no relay or consumer).
  std::optional<double> relay_lag_ms, outbox_backlog, consumer_lag, pubsub_reconnects;
  std::vector<std::pair<std::string, int64_t>> streams_by_queue;  // queues with ≥ 1 stream
};

// ProcessRow ⇄ the JSON stored on the FleetBoard (the same object the overview shows, without
// "self", "stale" and "age_s").
std::string encode_row(const ProcessRow& r);
std::optional<ProcessRow> decode_row(std::string_view json);

// Where the fleet's rows live. Embedded: this process's only. Redis: the hash `aq:fleet`
// (field = node id, value = encode_row), one key of its own (slot-safe: no command touches
// another key); rows not published for Options::forget_ms are deleted by the reader.
class FleetBoard {
 public:
  virtual ~FleetBoard() = default;
  virtual boost::asio::awaitable<Result<Ok>> publish(ProcessRow row) = 0;
  // Every row younger than forget_ms at `now` (this process's included), any order.
  virtual boost::asio::awaitable<Result<std::vector<ProcessRow>>> rows(Millis now,
                                                                      Millis forget_ms) = 0;
};
std::unique_ptr<FleetBoard> memory_fleet();
std::unique_ptr<FleetBoard> redis_fleet(redis::RedisClient& client);

// What this process knows of itself, read on the io thread at each sample.
struct LocalProbe {
  std::function<std::vector<std::pair<std::string, int64_t>>()> streams_by_queue;  // Hub
  std::function<int64_t()> connections;                                            // Server
};

struct Options {
  std::string node_id;
  std::string mode;  // "embedded", "redis", "redis+kafka": shown in the overview
  std::chrono::milliseconds sample{1000};  // --dashboard-sample-ms; 0: the dashboard is off
  size_t history_points = 900;             // 15 minutes at one a second
  Millis stale_ms = 5000;                  // a row older than this is shown stale
  Millis forget_ms = 3'600'000;            // and dropped from the board after this
  size_t max_watchers = 64;                // admin event streams at once (more: over_capacity)
};

class Dashboard {
 public:
  Dashboard(boost::asio::io_context& io, QueueStore& store, FleetBoard& fleet,
            metrics::Registry& metrics, LocalProbe probe, Options opt);
  ~Dashboard();

  // Takes the first sample at once, then one every Options::sample. Nothing if sample is 0.
  void start();
  // Ends the sampling and every watcher (their on_detach runs).
  void stop();

  bool enabled() const;
  // The latest frame (docs/dashboard.md "The overview"): {"t_ms", "node", "mode", "queues":[...],
  // "processes":[...]}. Before the first sample: the frame of a fleet with no queue.
  const std::string& overview() const;
  // {"queue":q,"step_s":1,"points":[Point, ... oldest first, at most history_points]}, or
  // nullopt for a queue the dashboard has no sample of (never seen, or forgotten).
  std::optional<std::string> history(std::string_view q) const;

  // An admin event stream: `head` (status line and headers) is written first, then
  // "event: overview\ndata: <overview>\n\n" at once and after every sample. A watcher whose
  // previous frame is not yet written skips that sample (the next frame is whole state).
  // `on_detach` runs once when the stream ends (client gone, stop()).
  // Returns false (nothing taken: the caller answers 503) when max_watchers are open.
  bool attach(boost::asio::ip::tcp::socket& sock, std::string head,
              std::function<void()> on_detach);
  size_t watchers() const;
  // Samples taken so far (tests count them instead of waiting for time to pass).
  uint64_t samples() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace anteroom::dashboard
