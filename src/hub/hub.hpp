#pragma once
// The per-process registry of open SSE streams. It receives every event of every queue (from the
// local bus or the distributed pipeline) in seq order, keeps each queue's QueueView (the line
// as a PositionIndex, seq, gaps, reloads), and tells each local stream what to send: positions
// (coalesced), admission, end; and the on-sale's frames (SPEC §7): an entrant's `prequeue`
// countdown, its `drawn` place (looked up from the store in chunks when `drawn` comes), the
// operator's `message`, and `lottery` instead of positions in mode random. Its parts: queue_view
// (the model of one queue), coalescer, sse_frames (frame text), stream (one stream's socket),
// fanout + send_worker (large sends).
//
// Cost: an event is applied in O(log n); only the streams whose position it moved are looked at
// again (local streams are kept in join order), once per batch of events: a join behind every
// open stream costs no flush. Of those, a flush ranks only the ones near the head; the ones
// further back (told at most once per far_interval anyway) are ranked by a sweep at most once
// per far_interval (far_sweep.hpp).
//
// Threading: everything runs on the one io_context given at construction; publish() must be
// called on it. Lifetime: its timers and store tasks are one async::TaskGroup, stopped (at once)
// by the destructor; streams still referenced elsewhere are closed and then touch nothing of it.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "async/task_group.hpp"
#include "core/event_sink.hpp"
#include "core/rules.hpp"
#include "hub/hub_config.hpp"
#include "hub/send_worker.hpp"
#include "hub/stream.hpp"
#include "metrics/metrics.hpp"
#include "store/queue_store.hpp"
#include "token/jwt.hpp"

namespace anteroom {

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
  // gone, ended, replaced, write timeout, shutdown) — the server's connection accounting.
  // A ticket keeps at most streams_per_ticket open streams: the newest wins, the oldest is sent
  // `event: replaced` and closed.
  void attach(const std::shared_ptr<Stream>& s, boost::asio::ip::tcp::socket sock, std::string head,
              std::function<void()> on_detach);
  // Forgets a stream that was never attached.
  void close(const std::shared_ptr<Stream>& s);

  // Observed-rate ETA for a position in a queue this process knows.
  int64_t eta(const std::string& queue, const QueueConfig& c, int64_t position, Millis now);
  double admit_rate(const std::string& queue, Millis now);
  // The queue's config as this process last read it, or nullptr if it has not yet.
  const QueueConfig* config(const std::string& queue) const;
  // A mode-random queue's lottery as this process sees it (the `lottery` frames' numbers): how
  // many wait, and the likely range of the wait. nullopt for a queue it does not know yet.
  struct Lottery {
    int64_t waiting = 0;
    rules::EtaRange eta;
  };
  std::optional<Lottery> lottery(const std::string& queue, Millis now);

  // Open streams of each queue that has any, on this process (the dashboard's fleet row).
  std::vector<std::pair<std::string, int64_t>> streams_by_queue() const;
  size_t streams() const { return streams_total_; }
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
  friend class Stream;
  View& view(const std::string& q);
  // Tells the streams of e's ticket (or all, for closed) what the event means for them.
  void tell(View& v, const Event& e);
  // `entrants`: the draw's entrants for a pre-queue ticket's first frame.
  void start(View& v, Stream& s, const Ticket& t, int64_t entrants);
  void tell_admitted(View& v, Stream& s, const std::string& ticket, Millis expires_ms, uint64_t seq,
                     Millis admitted_at);
  void tell_ended(Stream& s, EndReason r, uint64_t seq);
  // Ends the oldest open streams of s's ticket beyond streams_per_ticket.
  void cap_ticket(Stream& s);
  std::string position_frame(View& v, int64_t position, uint64_t id, Millis now);
  // ---- the on-sale ----
  // Waiting in the pre-queue (no place known yet): told `prequeue`, never a position.
  static bool in_prequeue(const Stream& s);
  // Mode random, a waiting ticket that is neither an entrant nor a skipper: told `lottery`,
  // never a position.
  static bool in_lottery(const View& v, const Stream& s);
  std::string prequeue_frame(View& v, uint64_t id, int64_t entrants, std::string_view entry_id,
                             Millis now);
  Lottery lottery_of(View& v, Millis now);
  std::string lottery_payload(View& v, Millis now);
  // The view's config was (re)read: a changed message goes to every stream, a changed
  // schedule or mode makes the next broadcast tell the pre-queue / lottery streams again.
  void config_read(View& v, const QueueConfig& before, bool was_known);
  // Sends `frame` to each stream (encoded once; large lists through the Fanout).
  void send_all(const std::vector<Stream*>& streams, const std::string& frame);
  // The draw's place of an entrant's stream: re-keyed to its order, told `drawn`.
  void apply_place(View& v, Stream& s, int64_t place);
  void request_places(View& v);
  // A ticket's state read from the store (after a resync): admitted, ended, or its place.
  void tell_state(View& v, Stream& s, const Ticket& t);
  void count_entrants(View& v);
  // Once a second: `prequeue` counts and `lottery` frames, one encoding per queue.
  void broadcast(Millis now);
  void schedule_flush(View& v);
  void wake();
  void flush();
  // The flush's two kinds of work on one queue: the moved streams near the head (every flush)
  // and the moved ones further back (a sweep, at most once per far_interval).
  struct Ranked {
    View* v;
    bool all;  // re-send even an unchanged position if its frame changed (config, resync)
    std::vector<std::pair<Stream*, int64_t>> streams;  // and their positions now
  };
  Ranked near_pass(View& v, uint64_t from, bool all);
  bool far_pass(View& v, std::vector<Ranked>& out);
  // Streams per slice of a sweep: at least this, at least parallel_send_min.
  static constexpr size_t kSweepSlice = 512;
  // Whether the flush tells `s` positions (waiting, shown positions, not ahead of the view).
  bool ranks(const View& v, const Stream& s) const;
  // A held stream whose time has come: its position as of now (the line may have moved since
  // it was held), then its bytes.
  void release(Stream& s);
  // Stream hooks: a position held back by the coalescing; a stream that ended (forgotten by
  // the flush loop, outside any loop over the maps).
  void hold(Stream& s);
  void forget_later(Stream& s);

  // Long-running tasks (hub_tasks.cpp), all in tasks_.
  boost::asio::awaitable<void> flush_loop();
  boost::asio::awaitable<void> resync_task(std::string queue);
  boost::asio::awaitable<void> refresh_config(std::string queue);
  boost::asio::awaitable<void> heartbeat_loop();
  boost::asio::awaitable<void> touch_loop();
  boost::asio::awaitable<void> hold_loop();
  boost::asio::awaitable<void> broadcast_loop();
  boost::asio::awaitable<void> places_task(std::string queue);

  QueueStore& store_;
  const TokenSigner& signer_;
  HubConfig cfg_;
  std::unordered_map<std::string, std::unique_ptr<View>> views_;
  std::unordered_set<View*> dirty_;             // views with moved positions, for the next flush
  std::unordered_set<View*> far_pending_;       // views with a far sweep pending (View::far)
  std::vector<std::shared_ptr<Stream>> ended_;  // for the next flush to forget
  bool woken_ = false;
  boost::asio::steady_timer wake_;  // the flush loop's doorbell (cancel() rings it)
  bool stopping_ = false;
  size_t streams_total_ = 0;
  uint64_t attached_ = 0;               // streams attached so far: their order of arrival
  std::unordered_set<Stream*> held_;    // streams with a position held back (coalescing)
  // ... and when each is due, soonest first (entries of streams no longer in held_ are stale).
  using Due = std::pair<std::chrono::steady_clock::time_point, Stream*>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> held_due_;
  std::unique_ptr<SendWorker> sender_;  // (when parallel_send_min > 0)

  metrics::Counter& m_events_;
  metrics::Counter& m_duplicates_;
  metrics::Counter& m_resyncs_;
  metrics::Counter& m_positions_sent_;
  metrics::Counter& m_positions_ranked_;
  metrics::Counter& m_released_;
  metrics::Counter& m_far_sweeps_;
  metrics::Counter& m_admissions_sent_;
  metrics::Counter& m_replaced_;
  metrics::Histogram& m_admit_latency_;
  metrics::Histogram& m_draw_places_ms_;
  metrics::Gauge& m_draw_first_admission_ms_;
  std::atomic<int64_t> draw_entrants_{0};  // sum over views (read by the metrics render)
  async::TaskGroup tasks_;  // last: stopped first, before the state its tasks touch goes
};

}  // namespace anteroom
