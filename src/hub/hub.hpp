#pragma once
// The per-process registry of open SSE streams. It receives every event of every queue (from the
// local bus or the distributed pipeline) in seq order, keeps each queue's waiting line as a
// PositionIndex, and tells each local stream what to send: positions (coalesced), admission,
// end. A seq gap makes it resynchronise that queue from the store.
//
// Threading: everything runs on the one io_context given at construction; publish() must be
// called on it. Streams are shared between the hub and their HTTP session: the session owns
// the socket, the hub only fills the stream's outgoing state and calls wake().
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/event_sink.hpp"
#include "hub/send_worker.hpp"
#include "core/position_index.hpp"
#include "core/rules.hpp"
#include "metrics/metrics.hpp"
#include "store/queue_store.hpp"
#include "token/jwt.hpp"

namespace anteroom {

class Hub;

struct HubConfig {
  std::chrono::milliseconds heartbeat{10'000};  // a comment line at least this often
  int64_t near_position = 100;                  // closer than this: every change is sent
  std::chrono::milliseconds far_interval{1000};  // further back: at most one position per this
  std::chrono::milliseconds touch_floor{250};    // keepalive batches no more often than this
  std::chrono::milliseconds write_timeout{30'000};  // a reader this far behind is dropped
  // An update for at least this many streams is sent by two threads (send_worker.hpp); 0: one.
  size_t parallel_send_min = 2048;
};

// One visitor's open event stream. After Hub::attach it owns the connection's socket: the hub
// writes each frame with a non-blocking send as soon as it is due, and falls back to an async
// write only when the socket's buffer is full. No coroutine, timer or thread per stream: about
// a kilobyte of state each (bench: mem_per_stream_bytes).
class Stream {
 public:
  const std::string& queue() const { return queue_; }
  const std::string& ticket() const { return ticket_; }

 private:
  friend class Hub;
  Stream(Hub& hub, std::string q, std::string t, const HubConfig& cfg)
      : hub_(hub), queue_(std::move(q)), ticket_(std::move(t)), cfg_(cfg) {}
  // Appends what is due now to `out` (frames already queued, then the latest position if the
  // coalescing allows). Returns true if a position was held back for later.
  bool drain(std::string& out);
  bool finished() const { return finished_ && frames_.empty(); }
  void queue_frame(std::string_view frame) { frames_ += frame; }
  void notify();

  Hub& hub_;
  std::string queue_, ticket_;
  const HubConfig& cfg_;
  bool started_ = false;       // initial state sent
  TicketState state_ = TicketState::waiting;
  uint64_t order_ = 0;
  uint64_t seq_ = 0;           // the seq of the last state this stream was told
  std::string frames_;         // encoded frames not yet handed to the socket
  bool finished_ = false;
  // Coalesced position: only the latest matters.
  bool position_dirty_ = false;
  int64_t position_ = -1;
  std::string position_frame_;
  std::chrono::steady_clock::time_point position_sent_{};
  // Transport (after attach).
  std::unique_ptr<boost::asio::ip::tcp::socket> sock_;
  std::string out_;      // bytes being written
  bool writing_ = false;  // an async write of out_ is in flight
  bool held_ = false;     // in the hub's held-back set
  bool closed_ = false;
  std::chrono::steady_clock::time_point blocked_since_{};
  std::function<void()> on_detach_;
};

class Hub final : public EventSink {
 public:
  Hub(boost::asio::io_context& io, QueueStore& store, const TokenSigner& signer,
      metrics::Registry& metrics, HubConfig cfg = {});
  ~Hub() override;

  // EventSink: one committed event. Events of one queue must come in seq order; duplicates are
  // dropped and a gap triggers a resync.
  void publish(const Event& e) override;

  // Opens a stream for a ticket, reads its current state from the store and queues it as the
  // first frame. Fails with the store's error (ticket_not_found, ...).
  boost::asio::awaitable<Result<std::shared_ptr<Stream>>> open(std::string queue,
                                                               std::string ticket);
  // Hands the connection to the stream: `head` (status line, headers, first bytes) goes out
  // first, then every frame as it is due. `on_detach` runs once when the stream ends (client
  // gone, ended, write timeout, shutdown) — the server's connection accounting.
  void attach(const std::shared_ptr<Stream>& s, boost::asio::ip::tcp::socket sock, std::string head,
              std::function<void()> on_detach);
  // Forgets a stream that was never attached.
  void close(const std::shared_ptr<Stream>& s);

  // Observed-rate ETA for a position in a queue this process knows.
  int64_t eta(const std::string& queue, const QueueConfig& c, int64_t position, Millis now);
  double admit_rate(const std::string& queue, Millis now);
  // The queue's config as this process last read it, or nullptr if it has not yet.
  const QueueConfig* config(const std::string& queue) const;

  // Graceful shutdown: every stream gets `retry: <ms>` and is finished.
  void shutdown(std::chrono::milliseconds retry);

  // Resynchronise one queue from the store (also used by the distributed pipeline when its
  // subscription was interrupted).
  void resync(const std::string& queue);
  // Only if this process already follows the queue (a queue it has not seen yet is loaded when
  // its first event or stream comes).
  void resync_if_known(const std::string& queue) {
    if (views_.count(queue)) resync(queue);
  }
  // Every queue this process knows (after its event feed was interrupted).
  void resync_all();

 private:
  struct View;
  View& view(const std::string& q);
  void apply(View& v, const Event& e);
  void start(View& v, Stream& s, const Ticket& t);
  void tell_admitted(View& v, Stream& s, const std::string& ticket, Millis expires_ms,
                     uint64_t seq, Millis admitted_at);
  void tell_ended(Stream& s, EndReason r, uint64_t seq);
  void schedule_flush(View& v);
  void flush();
  boost::asio::awaitable<void> resync_task(std::string queue);
  boost::asio::awaitable<void> refresh_config(std::string queue);
  boost::asio::awaitable<void> heartbeat_loop();
  boost::asio::awaitable<void> touch_loop();
  boost::asio::awaitable<void> hold_loop();
  friend class Stream;
  void pump(Stream& s);
  bool prepare(Stream& s);
  void written(Stream& s, size_t n, boost::system::error_code ec);
  class Fanout;
  void watch_close(std::shared_ptr<Stream> s);
  void end_stream(Stream& s);
  std::shared_ptr<Stream> shared(Stream& s);
  std::string position_frame(const View& v, int64_t position, uint64_t id, Millis now);

  boost::asio::io_context& io_;
  QueueStore& store_;
  const TokenSigner& signer_;
  HubConfig cfg_;
  std::unordered_map<std::string, std::unique_ptr<View>> views_;
  std::unordered_set<View*> dirty_;
  bool flush_scheduled_ = false;
  bool stopping_ = false;
  size_t streams_total_ = 0;
  std::unordered_set<Stream*> held_;  // streams with a position held back (coalescing)
  std::unique_ptr<SendWorker> sender_;  // (when parallel_send_min > 0)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  metrics::Counter& m_events_;
  metrics::Counter& m_duplicates_;
  metrics::Counter& m_resyncs_;
  metrics::Counter& m_positions_sent_;
  metrics::Counter& m_admissions_sent_;
  metrics::Histogram& m_admit_latency_;
};

}  // namespace anteroom
