// The hub's flush and its long-running tasks, all in its TaskGroup: the flush loop, the three
// timers (heartbeat, touch, hold) and the store tasks (resync, config refresh). Each ends at
// once when the group stops: a cancelled wait ends it, and after a store call it checks
// async::cancelled() before touching the hub again.
#include <boost/asio/as_tuple.hpp>

#include "core/encoding.hpp"
#include "hub/fanout.hpp"
#include "hub/hub.hpp"
#include "hub/hub_view.hpp"
#include "hub/sse_frames.hpp"

namespace anteroom {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Runs after the handler that rang it (as a post would): one flush per batch of events. First
// forgets the streams that ended (never inside a loop over the maps).
asio::awaitable<void> Hub::flush_loop() {
  for (;;) {
    if (!woken_) {
      (void)co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));  // rung or stopped
      bool stop = co_await async::cancelled();
      if (stop) co_return;
      continue;
    }
    woken_ = false;
    auto ended = std::move(ended_);
    ended_.clear();
    for (auto& sp : ended) close(sp);
    flush();
  }
}

// Only if a local stream is in the moved range: a join behind every open stream costs nothing.
void Hub::schedule_flush(View& v) {
  const auto& m = v.q.moved();
  if (!m.any()) return;
  // (The last stream in join order first: a join lands behind it, and that check is O(1).)
  if (!m.all && (v.by_order.empty() || m.from > v.by_order.rbegin()->first ||
                 v.from(m.from) == v.by_order.end())) {
    v.q.take_moved();
    return;
  }
  dirty_.insert(&v);
  wake();
}

void Hub::wake() {
  if (woken_) return;
  woken_ = true;
  wake_.cancel();
}

// Once per batch of events (not once per event): the position of every local waiting stream
// that the batch moved, O(moved streams · log n), no store call. The moved streams are listed
// first (pointers only), so that the fan-out knows its size before any frame is made.
void Hub::flush() {
  Millis now = wall_ms();
  auto dirty = std::move(dirty_);
  dirty_.clear();
  struct Moved {
    View* v;
    bool all;  // re-send even an unchanged position if its frame changed (config, resync)
    std::vector<Stream*> streams;
  };
  std::vector<Moved> moved;
  size_t total = 0;
  for (View* v : dirty) {
    auto m = v->q.take_moved();
    if (!m.any()) continue;
    Moved batch{v, m.all, {}};
    for (auto it = v->from(m.from); it != v->by_order.end(); ++it) {
      Stream* s = it->second;
      if (s->state_ == TicketState::waiting && v->q.seq() >= s->seq_) batch.streams.push_back(s);
    }
    total += batch.streams.size();
    m_positions_ranked_.inc(static_cast<int64_t>(batch.streams.size()));
    moved.push_back(std::move(batch));
  }
  Fanout out(sender_.get(), total, cfg_.parallel_send_min);
  for (auto& [v, all, streams] : moved) {
    const PositionIndex& line = v->q.line();
    for (Stream* s : streams) {
      if (!line.contains(s->order_)) continue;  // its admitted/ended event will tell it
      int64_t pos = line.rank(s->order_);
      if (pos == s->position_.position() && !all) continue;
      std::string f = position_frame(*v, pos, v->q.seq(), now);
      // A forced refresh (config change, resync) that shows nothing new is not sent.
      if (pos == s->position_.position() && sse::same_payload(f, s->position_.frame())) continue;
      s->position_.update(pos, std::move(f));
      s->seq_ = v->q.seq();
      m_positions_sent_.inc();
      out.add(*s);
    }
  }
  out.finish();
}

asio::awaitable<void> Hub::resync_task(std::string q) {
  for (int attempt = 0;; ++attempt) {
    auto snap = co_await store_.snapshot(q);
    if (co_await async::cancelled()) co_return;
    if (snap) {
      View& v = view(q);
      auto buffered = v.q.load(*snap);  // (refreshes every stream)
      // After a store restart seq may have gone back: streams must accept what follows.
      for (auto& [s, _] : v.streams) s->seq_ = std::min(s->seq_, v.q.seq());
      for (auto& e : buffered) publish(e);  // applies in order; a new gap resyncs again
      schedule_flush(v);
      // Streams whose ticket left the line while we were not listening: ask the store.
      std::vector<std::shared_ptr<Stream>> unknown;
      for (auto& [s, sp] : v.streams)
        if (s->started_ && s->state_ == TicketState::waiting && !v.q.line().contains(s->order_))
          unknown.push_back(sp);
      for (auto& sp : unknown) {
        auto t = co_await store_.get_ticket(q, sp->ticket_, false, wall_ms());
        if (co_await async::cancelled()) co_return;
        if (!t) continue;
        View& vv = view(q);
        if (t->state == TicketState::active)
          tell_admitted(vv, *sp, t->id, t->expires_ms, t->seq, 0);
        if (t->state == TicketState::ended) tell_ended(*sp, t->reason, t->seq);
      }
      co_return;
    }
    if (snap.error().code == Errc::queue_not_found) {
      view(q).q.reload_failed();
      co_return;
    }
    bool woke = co_await async::sleep_for(
        std::chrono::milliseconds(std::min(2000, 100 << std::min(attempt, 4))));
    if (!woke) co_return;
  }
}

asio::awaitable<void> Hub::refresh_config(std::string q) {
  auto qi = co_await store_.get_queue(q);
  if (co_await async::cancelled()) co_return;
  if (!qi) co_return;
  View& v = view(q);
  v.q.configure(qi->config);
  v.q.refresh_all();
  schedule_flush(v);
}

asio::awaitable<void> Hub::heartbeat_loop() {
  for (;;) {
    bool woke = co_await async::sleep_for(cfg_.heartbeat);
    if (!woke || stopping_) co_return;
    auto now = Clock::now();
    for (auto& [_, v] : views_)
      for (auto& [s, __] : v->streams) {
        if (!s->started_) continue;
        if (s->writing_ && now - s->blocked_since_ > cfg_.write_timeout) {
          s->end();  // it stopped reading: do not hold its data forever
          continue;
        }
        s->queue_frame(sse::kHeartbeat);
        s->pump();
      }
  }
}

// Open streams keep their tickets from being abandoned: one batched touch per queue, about
// three times per abandon_after_s (never more often than touch_floor).
asio::awaitable<void> Hub::touch_loop() {
  for (;;) {
    bool woke = co_await async::sleep_for(cfg_.touch_floor);
    if (!woke || stopping_) co_return;
    Millis now = wall_ms();
    std::vector<std::pair<std::string, std::vector<std::string>>> batches;
    for (auto& [name, v] : views_) {
      if (v->streams.empty()) continue;
      Millis every =
          std::max<Millis>(cfg_.touch_floor.count(), v->q.config().abandon_after_s * 1000 / 3);
      if (now - v->last_touch_ms < every) continue;
      v->last_touch_ms = now;
      std::vector<std::string> ids;
      for (auto& [s, _] : v->streams)
        if (s->state_ == TicketState::waiting) ids.push_back(s->ticket_);
      if (!ids.empty()) batches.emplace_back(name, std::move(ids));
    }
    for (auto& [q, ids] : batches) {
      (void)co_await store_.touch(q, std::move(ids), now);
      if (co_await async::cancelled()) co_return;
    }
  }
}

// Positions held back by the coalescing go out when their interval is up.
asio::awaitable<void> Hub::hold_loop() {
  for (;;) {
    bool woke = co_await async::sleep_for(std::chrono::milliseconds(50));
    if (!woke || stopping_) co_return;
    if (held_.empty()) continue;
    std::vector<Stream*> due(held_.begin(), held_.end());
    held_.clear();
    for (Stream* s : due) s->pump();  // held again if its time has not come
  }
}

}  // namespace anteroom
