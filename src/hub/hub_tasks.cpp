// The hub's flush and its long-running tasks, all in its TaskGroup: the flush loop, the four
// timers (heartbeat, touch, hold, broadcast) and the store tasks (resync, config refresh, the
// places of a draw's entrants). Each ends at
// once when the group stops: a cancelled wait ends it, and after a store call it checks
// async::cancelled() before touching the hub again.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/encoding.hpp"
#include "hub/fanout.hpp"
#include "hub/far_sweep.hpp"
#include "hub/hub.hpp"
#include "hub/hub_view.hpp"
#include "hub/sse_frames.hpp"

namespace anteroom {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// Runs after the handler that rang it (as a post would): one flush per batch of events. First
// forgets the streams that ended (never inside a loop over the maps).
asio::awaitable<void> Hub::flush_loop() {
  for (bool more = true; more;) {
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
    if (woken_) {  // (a sweep goes on: requests waiting meanwhile go first)
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      bool stop = co_await async::cancelled();
      if (stop) co_return;
    }
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

bool Hub::ranks(const View& v, const Stream& s) const {
  // (Pre-queue and lottery streams are told no position: the broadcast tells them.)
  return s.state_ == TicketState::waiting && v.q.seq() >= s.seq_ && !in_prequeue(s) &&
         !in_lottery(v, s) && v.q.waiting(s.order_);  // (else its admitted/ended event tells it)
}

// The moved streams near the head. Positions grow with join order within each of the two
// segments of by_order (the line, then the skippers: their orders come after every line order
// but their positions first), so each segment is walked from `from` up to its first stream
// beyond near_position: everyone behind that one is further back still, and left to the sweep.
Hub::Ranked Hub::near_pass(View& v, uint64_t from, bool all) {
  Ranked r{&v, all, {}};
  bool far = false;
  int64_t ranked = 0;
  auto segment = [&](auto it, auto end) {
    for (; it != end; ++it) {
      Stream* s = it->second;
      if (!ranks(v, *s)) continue;
      int64_t pos = v.q.position(s->order_);
      ++ranked;
      if (pos > cfg_.near_position) {
        far = true;
        return;
      }
      r.streams.emplace_back(s, pos);
    }
  };
  auto skippers = v.from(rules::kSkipOrder);
  if (from < rules::kSkipOrder) segment(v.from(from), skippers);
  segment(from < rules::kSkipOrder ? skippers : v.from(from), v.by_order.end());
  m_positions_ranked_.inc(ranked);
  if (far) {
    v.far.mark(from, all);
    far_pending_.insert(&v);
  }
  return r;
}

// One slice of a queue's sweep: every moved stream since the last sweep (those near the head
// again too: they are few, and unchanged ones are not sent), about a slice of them; the
// next slice goes on after a turn of the io thread. Returns whether the sweep is over.
bool Hub::far_pass(View& v, std::vector<Ranked>& out) {
  if (!v.far.sweeping()) v.far.begin();
  const FarSweep::Range& m = v.far.current();
  Ranked r{&v, m.all, {}};
  // A slice is at least what the fan-out sends with two threads: a slice of a large sweep is
  // sent as fast as one large flush was.
  size_t slice = std::max(kSweepSlice, cfg_.parallel_send_min);
  size_t visited = 0;
  auto it = v.from(m.from);
  for (; it != v.by_order.end(); ++it) {
    // (Cut between two orders only: a slice resumes at an order.)
    if (visited >= slice && it->first != std::prev(it)->first) break;
    ++visited;
    if (ranks(v, *it->second)) r.streams.emplace_back(it->second, v.q.position(it->second->order_));
  }
  bool over = it == v.by_order.end();
  v.far.advance(over ? FarSweep::kNone : it->first);
  m_positions_ranked_.inc(static_cast<int64_t>(r.streams.size()));
  if (over) m_far_sweeps_.inc();
  out.push_back(std::move(r));
  return over;
}

// Once per batch of events (not once per event): the position of every local waiting stream
// near the head that the batch moved, and of the moved ones further back when their queue's
// sweep is due; O(ranked streams · log n), no store call. The streams are ranked first, so that
// the fan-out knows its size before any frame is made.
void Hub::flush() {
  Millis now = wall_ms();
  auto dirty = std::move(dirty_);
  dirty_.clear();
  std::vector<Ranked> ranked;
  for (View* v : dirty) {
    auto m = v->q.take_moved();
    if (m.any()) ranked.push_back(near_pass(*v, m.from, m.all));
  }
  // One slice of each due sweep; a queue stays in far_pending_ while its sweep goes on or more
  // moved meanwhile.
  std::vector<View*> swept;
  bool sweeping = false;
  auto steady = Clock::now();
  for (auto it = far_pending_.begin(); it != far_pending_.end();) {
    View* v = *it;
    if (!v->far.due(steady)) {
      ++it;
      continue;
    }
    if (far_pass(*v, ranked))
      swept.push_back(v);
    else
      sweeping = true;
    it = v->far.sweeping() || v->far.pending() ? std::next(it) : far_pending_.erase(it);
  }
  size_t total = 0;
  for (auto& r : ranked) total += r.streams.size();
  Fanout out(sender_.get(), total, cfg_.parallel_send_min);
  for (auto& [v, all, streams] : ranked) {
    for (auto [s, pos] : streams) {
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
  auto end = Clock::now();
  for (View* v : swept) v->far.swept(end, cfg_.far_interval);
  if (sweeping) wake();  // the next slices, after a turn of the io thread (flush_loop)
}

void Hub::hold(Stream& s) {
  if (held_.insert(&s).second) held_due_.emplace(s.position_.due(cfg_.coalescing()), &s);
}

void Hub::release(Stream& s) {
  m_released_.inc();
  auto it = views_.find(s.queue_);
  if (s.position_.pending() && it != views_.end()) {
    View& v = *it->second;
    if (ranks(v, s)) {
      int64_t pos = v.q.position(s.order_);
      m_positions_ranked_.inc();
      if (pos != s.position_.position()) {
        s.position_.update(pos, position_frame(v, pos, v.q.seq(), wall_ms()));
        s.seq_ = v.q.seq();
      }
    }
  }
  s.pump();  // (held again if its time has not come)
}

asio::awaitable<void> Hub::resync_task(std::string q) {
  for (int attempt = 0;; ++attempt) {
    auto snap = co_await store_.snapshot(q);
    if (co_await async::cancelled()) co_return;
    if (snap) {
      View& v = view(q);
      QueueConfig before = v.q.config();
      bool was_known = v.q.known();
      auto buffered = v.q.load(*snap);  // (refreshes every stream)
      count_entrants(v);
      config_read(v, before, was_known);
      // After a store restart seq may have gone back: streams must accept what follows.
      for (auto& [s, _] : v.streams) s->seq_ = std::min(s->seq_, v.q.seq());
      for (auto& e : buffered) publish(e);  // applies in order; a new gap resyncs again
      schedule_flush(v);
      // Streams whose ticket left the line while we were not listening: ask the store.
      // Entrants with no place yet are never in the line: once drawn their places are looked
      // up in chunks (places_task, which asks about the ones that are not drawn entrants); in
      // the pre-queue only a closed queue ended them all.
      bool drawn = v.q.draw().state == DrawState::drawn;
      std::vector<std::shared_ptr<Stream>> unknown;
      for (auto& [s, sp] : v.streams)
        if (s->started_ && s->state_ == TicketState::waiting &&
            (in_prequeue(*s) ? !drawn && v.q.closed() : !v.q.waiting(s->order_)))
          unknown.push_back(sp);
      if (drawn) request_places(v);
      for (auto& sp : unknown) {
        auto t = co_await store_.get_ticket(q, sp->ticket_, false, wall_ms());
        if (co_await async::cancelled()) co_return;
        if (!t) continue;
        tell_state(view(q), *sp, *t);
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

void Hub::tell_state(View& v, Stream& s, const Ticket& t) {
  if (t.state == TicketState::active) tell_admitted(v, s, t.id, t.expires_ms, t.seq, 0);
  if (t.state == TicketState::ended) tell_ended(s, t.reason, t.seq);
  if (t.state == TicketState::waiting && t.place > 0 && s.place_ == 0) apply_place(v, s, t.place);
}

asio::awaitable<void> Hub::refresh_config(std::string q) {
  auto qi = co_await store_.get_queue(q);
  if (co_await async::cancelled()) co_return;
  if (!qi) co_return;
  View& v = view(q);
  QueueConfig before = v.q.config();
  bool was_known = v.q.known();
  v.q.configure(qi->config);
  count_entrants(v);
  config_read(v, before, was_known);
  v.q.refresh_all();
  schedule_flush(v);
}

// The places of this queue's local entrants once drawn: the streams still waiting for theirs,
// asked in chunks of 500 (one short store call each), each told `drawn` as its answer comes.
// Streams opened meanwhile are picked up by the next round; one asked already is not asked again
// (place 0: no drawn entrant: its ticket's own event tells it why).
asio::awaitable<void> Hub::places_task(std::string q) {
  constexpr size_t kChunk = 500;
  int attempt = 0;
  for (bool more = true; more;) {
    View& v = view(q);
    std::vector<std::shared_ptr<Stream>> batch;
    std::vector<std::string> ids;
    if (v.q.draw().state == DrawState::drawn) {
      for (auto& [s, sp] : v.streams) {
        if (!s->started_ || !in_prequeue(*s) || s->place_asked_) continue;
        s->place_asked_ = true;
        batch.push_back(sp);
        ids.push_back(s->ticket_);
        if (batch.size() == kChunk) break;
      }
    }
    if (batch.empty()) {
      v.places_running = false;
      co_return;
    }
    auto places = co_await store_.places(q, std::move(ids));
    if (co_await async::cancelled()) co_return;
    View& vv = view(q);
    if (!places || places->size() != batch.size()) {
      for (auto& sp : batch) sp->place_asked_ = false;  // asked again after a pause
      bool woke = co_await async::sleep_for(
          std::chrono::milliseconds(std::min(2000, 100 << std::min(attempt++, 4))));
      if (!woke) co_return;
      continue;
    }
    attempt = 0;
    std::vector<std::shared_ptr<Stream>> not_drawn;
    for (size_t i = 0; i < batch.size(); ++i) {
      apply_place(vv, *batch[i], (*places)[i]);
      if ((*places)[i] <= 0) not_drawn.push_back(batch[i]);
    }
    // No place: the ticket left (or was ended) in a way this process missed (a resync during
    // the pre-queue): its own state tells. Rare; one read each.
    for (auto& sp : not_drawn) {
      if (!view(q).streams.count(sp.get()) || !in_prequeue(*sp)) continue;
      auto t = co_await store_.get_ticket(q, sp->ticket_, false, wall_ms());
      if (co_await async::cancelled()) co_return;
      if (t) tell_state(view(q), *sp, *t);
    }
  }
}

asio::awaitable<void> Hub::broadcast_loop() {
  for (bool more = true; more;) {
    bool woke = co_await async::sleep_for(std::chrono::seconds(1));
    if (!woke || stopping_) co_return;
    broadcast(wall_ms());
  }
}

// Spread over the interval: each of kBuckets ticks per heartbeat interval serves the streams of
// one bucket (by order of attach), so each stream still gets one per interval but 100k streams'
// heartbeats (and write-timeout checks) never go out at once; and in slices of kSlice streams,
// the io thread serving whatever else waits (joins) in between.
asio::awaitable<void> Hub::heartbeat_loop() {
  constexpr uint64_t kBuckets = 10;
  constexpr size_t kSlice = 512;
  auto ex = co_await asio::this_coro::executor;
  uint64_t tick = 0;
  for (bool more = true; more; ++tick) {
    bool woke = co_await async::sleep_for(cfg_.heartbeat / static_cast<int64_t>(kBuckets));
    if (!woke || stopping_) co_return;
    std::vector<std::shared_ptr<Stream>> due;  // (kept alive across the slices)
    due.reserve(streams_total_ / kBuckets + 1);
    for (auto& [_, v] : views_)
      for (auto& [s, sp] : v->streams)
        if (s->started_ && s->attached_no_ % kBuckets == tick % kBuckets) due.push_back(sp);
    for (size_t i = 0; i < due.size(); ++i) {
      if (i > 0 && i % kSlice == 0) {
        co_await asio::post(ex, asio::use_awaitable);
        bool stop = co_await async::cancelled();
        if (stop || stopping_) co_return;
      }
      Stream& s = *due[i];
      if (s.closed_) continue;
      if (s.writing_ && Clock::now() - s.blocked_since_ > cfg_.write_timeout) {
        s.end();  // it stopped reading: do not hold its data forever
        continue;
      }
      s.queue_frame(sse::kHeartbeat);
      s.pump();
    }
  }
}

// Open streams keep their tickets from being abandoned: batched touches per queue, about three
// times per abandon_after_s (never more often than touch_floor), in chunks of kChunk tickets
// (one short store call each: 100k tickets in one script call would stall Redis).
asio::awaitable<void> Hub::touch_loop() {
  constexpr size_t kChunk = 1000;
  for (bool more = true; more;) {
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
      for (auto& [s, _] : v->streams) {
        if (s->state_ != TicketState::waiting) continue;
        if (ids.size() == kChunk) {
          batches.emplace_back(name, std::move(ids));
          ids = {};
        }
        ids.push_back(s->ticket_);
      }
      if (!ids.empty()) batches.emplace_back(name, std::move(ids));
    }
    for (auto& [q, ids] : batches) {
      (void)co_await store_.touch(q, std::move(ids), now);
      if (co_await async::cancelled()) co_return;
    }
  }
}

// Positions held back by the coalescing go out when their interval is up (with the line as it
// is then), and far sweeps that came due start a flush.
asio::awaitable<void> Hub::hold_loop() {
  for (bool more = true; more;) {
    bool woke = co_await async::sleep_for(std::chrono::milliseconds(50));
    if (!woke || stopping_) co_return;
    auto now = Clock::now();
    // (An entry whose stream left held_ meanwhile is stale: skipped.)
    while (!held_due_.empty() && held_due_.top().first <= now) {
      Stream* s = held_due_.top().second;
      held_due_.pop();
      if (held_.erase(s)) release(*s);
    }
    for (View* v : far_pending_)
      if (v->far.due(now)) {
        wake();
        break;
      }
  }
}

}  // namespace anteroom
