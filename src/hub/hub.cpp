#include "hub/hub.hpp"

#include <algorithm>

#include "core/encoding.hpp"
#include "draw/draw.hpp"
#include "hub/fanout.hpp"
#include "hub/hub_view.hpp"
#include "hub/sse_frames.hpp"
#include "token/admission.hpp"
#include "views/views.hpp"

namespace anteroom {

namespace asio = boost::asio;

Hub::Hub(asio::io_context& io, QueueStore& store, const TokenSigner& signer, metrics::Registry& m,
         HubConfig cfg)
    : store_(store),
      signer_(signer),
      cfg_(cfg),
      wake_(io, asio::steady_timer::time_point::max()),
      m_events_(m.counter("hub_events_total", "Events received by this process's hub")),
      m_duplicates_(m.counter("hub_duplicates_dropped_total", "Events dropped as duplicates")),
      m_resyncs_(m.counter("hub_resyncs_total", "Queue resynchronisations from the store")),
      m_positions_sent_(m.counter("sse_positions_total", "Position updates queued to streams")),
      m_positions_ranked_(
          m.counter("hub_positions_ranked_total",
                    "Stream positions recomputed (streams an event may have moved)")),
      m_released_(m.counter("hub_held_released_total",
                            "Held positions whose interval was up, each ranked again (the line "
                            "may have moved since) and sent")),
      m_far_sweeps_(m.counter("hub_far_sweeps_total",
                              "Sweeps ranking a queue's moved streams beyond the near head "
                              "(at most one per far interval and queue)")),
      m_admissions_sent_(m.counter("sse_admissions_total", "Admissions told to open streams")),
      m_replaced_(m.counter("sse_streams_replaced_total",
                            "Streams ended because a newer stream of their ticket opened")),
      m_admit_latency_(
          m.histogram("admission_to_sse_ms",
                      "From the admission (store time) to the frame queued on a local stream",
                      {1, 2, 3, 5, 7.5, 10, 15, 20, 25, 50, 100, 250, 500, 1000, 5000})),
      m_draw_places_ms_(m.histogram(
          "draw_places_ms",
          "From opens_at to an entrant's `drawn` frame queued on a local stream (its max: this "
          "process's draw duration)",
          {50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000})),
      m_draw_first_admission_ms_(
          m.gauge("draw_first_admission_ms",
                  "The latest draw this process saw: its first admission's time minus opens_at")),
      tasks_(io.get_executor()) {
  m.gauge_fn("sse_streams", "Open SSE streams", [this] { return double(streams_total_); });
  m.gauge_fn("draw_entrants",
             "Entrants of the draws of the queues this process follows (pre-queue: so far)",
             [this] { return double(draw_entrants_.load(std::memory_order_relaxed)); });
  if (cfg_.parallel_send_min > 0) sender_ = std::make_unique<SendWorker>();
  tasks_.spawn(flush_loop());
  tasks_.spawn(heartbeat_loop());
  tasks_.spawn(touch_loop());
  tasks_.spawn(hold_loop());
  tasks_.spawn(broadcast_loop());
}

Hub::~Hub() {
  tasks_.stop();
  for (auto& [_, v] : views_)
    for (auto& [s, __] : v->streams) s->abandon();  // their pending completions now touch nothing
}

Hub::View& Hub::view(const std::string& q) {
  auto& p = views_[q];
  if (!p) {
    p = std::make_unique<View>();
    p->name = q;
  }
  return *p;
}

void Hub::publish(const Event& e) {
  m_events_.inc();
  View& v = view(e.queue);
  switch (v.q.receive(e)) {
    case QueueView::Step::duplicate:
      m_duplicates_.inc();
      return;
    case QueueView::Step::buffered:
      return;
    case QueueView::Step::gap:
      resync(e.queue);
      return;
    case QueueView::Step::apply:
      break;
  }
  v.q.apply(e);
  count_entrants(v);
  tell(v, e);
  schedule_flush(v);
}

void Hub::count_entrants(View& v) {
  const auto& d = v.q.draw();
  bool counts = !v.q.closed() && (d.state == DrawState::prequeue || d.state == DrawState::drawn);
  int64_t n = counts ? d.entrants : 0;
  if (n == v.entrants_counted) return;
  draw_entrants_.fetch_add(n - v.entrants_counted, std::memory_order_relaxed);
  v.entrants_counted = n;
}

void Hub::tell(View& v, const Event& e) {
  // A join tells nobody (its own stream, if any, had its state from the store): no lookup, so
  // the crowd's joins cost nothing per open stream.
  if (e.type == EventType::joined) return;
  auto [b, end] = v.by_ticket.equal_range(e.ticket);
  switch (e.type) {
    case EventType::admitted:
      if (v.first_admission) {
        v.first_admission = false;
        if (auto at = v.q.config().opens_at)
          m_draw_first_admission_ms_.set(static_cast<double>(e.at_ms - *at * 1000));
      }
      for (auto it = b; it != end; ++it)
        tell_admitted(v, *it->second, e.ticket, e.expires_ms, e.seq, e.at_ms);
      break;
    case EventType::left:
    case EventType::abandoned:
    case EventType::expired:
    case EventType::completed:
      for (auto it = b; it != end; ++it) tell_ended(*it->second, end_reason_of(e.type), e.seq);
      break;
    case EventType::config_changed:
      tasks_.spawn(refresh_config(v.name));
      break;
    case EventType::closed:
      for (auto& [s, _] : v.streams)
        if (s->state_ == TicketState::waiting) tell_ended(*s, EndReason::closed, e.seq);
      break;
    case EventType::entered:  // (the broadcast tells the pre-queue's streams the new count)
      break;
    case EventType::drawn:
      v.first_admission = true;
      request_places(v);
      break;
    case EventType::joined:  // (returned above: named for -Wswitch)
      break;
  }
}

void Hub::tell_admitted(View& v, Stream& s, const std::string& ticket, Millis expires_ms,
                        uint64_t seq, Millis admitted_at) {
  // Once per stream: a ticket is admitted once. (A resync lowers the streams' seq to its
  // snapshot's, for a store whose seq went back, so a delayed copy of an admission the stream
  // was already told - at its open, read from the store - would otherwise pass the seq check.)
  if (seq <= s.seq_ || s.state_ != TicketState::waiting) return;
  s.queue_frame(sse::admitted(
      seq, admission_for(signer_, v.name, ticket, expires_ms, v.q.config().target_url)));
  s.state_ = TicketState::active;
  s.position_.drop();
  s.seq_ = seq;
  m_admissions_sent_.inc();
  if (admitted_at > 0) m_admit_latency_.observe(static_cast<double>(wall_ms() - admitted_at));
  s.pump();
}

void Hub::tell_ended(Stream& s, EndReason r, uint64_t seq) {
  if (seq <= s.seq_ || s.state_ == TicketState::ended) return;
  s.queue_frame(sse::ended(seq, r));
  s.state_ = TicketState::ended;
  s.position_.drop();
  s.finished_ = true;
  s.seq_ = seq;
  s.pump();
}

void Hub::attach(const std::shared_ptr<Stream>& s, asio::ip::tcp::socket sock, std::string head,
                 std::function<void()> on_detach) {
  s->attached_no_ = ++attached_;
  s->attach(std::move(sock), std::move(head), std::move(on_detach));
  cap_ticket(*s);
}

// Newest wins: a visitor who reloads or opens a second tab keeps a working page, and one ticket
// cannot hold more than streams_per_ticket of the server's connections. Streams already ending
// (ended ticket, replaced) or not yet attached do not count.
void Hub::cap_ticket(Stream& s) {
  auto it = views_.find(s.queue_);
  if (it == views_.end()) return;
  std::vector<Stream*> open;
  auto [b, e] = it->second->by_ticket.equal_range(s.ticket_);
  for (auto i = b; i != e; ++i) {
    Stream* o = i->second;
    if (o->attached_no_ > 0 && !o->closed_ && !o->finished_) open.push_back(o);
  }
  if (static_cast<int64_t>(open.size()) <= cfg_.streams_per_ticket) return;
  std::sort(open.begin(), open.end(),
            [](Stream* a, Stream* b) { return a->attached_no_ < b->attached_no_; });
  open.resize(open.size() - static_cast<size_t>(cfg_.streams_per_ticket));
  for (Stream* o : open) {
    o->queue_frame(sse::replaced());
    o->state_ = TicketState::ended;  // told nothing more (positions, admission, end)
    o->position_.drop();
    o->finished_ = true;
    held_.erase(o);
    m_replaced_.inc();
    o->pump();
  }
}

std::string Hub::position_frame(View& v, int64_t position, uint64_t id, Millis now) {
  int64_t eta = rules::eta_seconds(position, v.q.admit_rate(now), v.q.config());
  return sse::position(id, position, eta, v.q.config().paused);
}

bool Hub::in_prequeue(const Stream& s) {
  return s.entrant_ && s.place_ == 0 && s.state_ == TicketState::waiting;
}

bool Hub::in_lottery(const View& v, const Stream& s) {
  // (Skippers wait first come first served in every mode: they are told their position.)
  return v.q.config().mode == Mode::random && !s.entrant_ && !rules::is_skip(s.order_) &&
         s.state_ == TicketState::waiting;
}

std::string Hub::prequeue_frame(View& v, uint64_t id, int64_t entrants, std::string_view entry_id,
                                Millis now) {
  int64_t opens_at = v.q.config().opens_at.value_or(0);
  return sse::prequeue(id, opens_at, rules::seconds_until(opens_at, now), entrants, entry_id);
}

// Everyone waiting in the lottery is equally likely to be next: the line's length (the
// store's stats.waiting, as GET shows it) and the spread of the wait over it.
Hub::Lottery Hub::lottery_of(View& v, Millis now) {
  int64_t waiting = v.q.waiting_count();
  return {waiting, rules::lottery_eta(waiting, v.q.admit_rate(now), v.q.config())};
}

std::optional<Hub::Lottery> Hub::lottery(const std::string& q, Millis now) {
  auto it = views_.find(q);
  if (it == views_.end() || !it->second->q.known()) return std::nullopt;
  return lottery_of(*it->second, now);
}

std::string Hub::lottery_payload(View& v, Millis now) {
  Lottery l = lottery_of(v, now);
  return views::lottery_json(l.waiting, l.eta.min_s, l.eta.max_s);
}

void Hub::send_all(const std::vector<Stream*>& streams, const std::string& frame) {
  Fanout out(sender_.get(), streams.size(), cfg_.parallel_send_min);
  for (Stream* s : streams) {
    s->queue_frame(frame);
    out.add(*s);
  }
  out.finish();
}

void Hub::config_read(View& v, const QueueConfig& before, bool was_known) {
  const QueueConfig& c = v.q.config();
  if (was_known && c.message != before.message) {
    std::vector<Stream*> to;
    for (auto& [s, _] : v.streams)
      if (s->started_ && !s->finished_ && s->state_ != TicketState::ended) to.push_back(s);
    send_all(to, sse::message(v.q.seq(), c.message));
  }
  if (c.opens_at != before.opens_at) v.prequeue_told = -1;  // a new countdown at the next tick
  if (c.mode != Mode::random) v.lottery_told.clear();
}

void Hub::broadcast(Millis now) {
  for (auto& [_, vp] : views_) {
    View& v = *vp;
    if (v.streams.empty() || !v.q.known()) continue;
    if (v.q.draw().state == DrawState::prequeue && v.q.config().opens_at) {
      int64_t n = v.q.draw().entrants;
      if (n != v.prequeue_told || now - v.prequeue_told_ms >= 10'000) {
        std::vector<Stream*> to;
        for (auto& [s, __] : v.streams)
          if (s->started_ && !s->finished_ && in_prequeue(*s)) to.push_back(s);
        if (!to.empty()) send_all(to, prequeue_frame(v, v.q.seq(), n, {}, now));
        v.prequeue_told = n;
        v.prequeue_told_ms = now;
      }
    }
    if (v.q.config().mode == Mode::random) {
      std::string payload = lottery_payload(v, now);
      if (payload != v.lottery_told) {
        std::vector<Stream*> to;
        for (auto& [s, __] : v.streams)
          if (s->started_ && !s->finished_ && in_lottery(v, *s)) {
            s->position_ = CoalescedPosition{};  // (a later position is new to it again)
            held_.erase(s);
            to.push_back(s);
          }
        if (!to.empty()) send_all(to, sse::frame("lottery", v.q.seq(), payload));
        v.lottery_told = std::move(payload);
      }
    }
  }
}

void Hub::request_places(View& v) {
  if (v.places_running) return;
  v.places_running = true;
  tasks_.spawn(places_task(v.name));
}

void Hub::apply_place(View& v, Stream& s, int64_t place) {
  const auto& d = v.q.draw();
  // Not a drawn entrant, or forgotten, or this process has not seen the draw yet (its `drawn`
  // event looks the place up again).
  if (place <= 0 || !v.streams.count(&s) || d.state != DrawState::drawn) return;
  s.place_ = place;
  v.by_order.erase({s.order_, &s});
  s.order_ = d.base + static_cast<uint64_t>(place);
  v.by_order.emplace(s.order_, &s);
  if (s.state_ != TicketState::waiting || s.finished_) return;  // admitted meanwhile: told so
  Millis now = wall_ms();
  int64_t pos = v.q.position(s.order_);
  int64_t eta = rules::eta_seconds(pos, v.q.admit_rate(now), v.q.config());
  s.queue_frame(sse::drawn(d.seq, place, d.entrants, pos, eta));
  s.seq_ = std::max(s.seq_, d.seq);
  // The position it was just told, so that the flush sends only changes.
  s.position_.sent_now(pos, position_frame(v, pos, d.seq, now), std::chrono::steady_clock::now());
  Millis from = v.q.config().opens_at ? *v.q.config().opens_at * 1000 : d.drawn_at_ms;
  m_draw_places_ms_.observe(static_cast<double>(std::max<Millis>(0, now - from)));
  s.pump();
}

void Hub::forget_later(Stream& s) {
  held_.erase(&s);
  ended_.push_back(s.shared_from_this());
  wake();
}

void Hub::start(View& v, Stream& s, const Ticket& t, int64_t entrants) {
  s.started_ = true;
  s.order_ = t.order;
  s.entrant_ = t.entrant;
  s.place_ = t.place;
  v.by_order.emplace(t.order, &s);
  if (s.seq_ > t.seq) return;  // an event newer than the store's answer already told it
  s.frames_.clear();
  s.finished_ = false;
  s.seq_ = t.seq;
  Millis now = wall_ms();
  switch (t.state) {
    case TicketState::waiting: {
      s.state_ = TicketState::waiting;
      if (in_prequeue(s)) {
        s.queue_frame(prequeue_frame(v, t.seq, entrants, draw::entry_id(t.id), now));
        // Read before the draw, opened after this process saw it: look its place up too.
        if (v.q.draw().state == DrawState::drawn) request_places(v);
      } else if (in_lottery(v, s)) {
        s.queue_frame(sse::frame("lottery", t.seq, lottery_payload(v, now)));
      } else {
        std::string f = position_frame(v, t.position, t.seq, now);
        s.queue_frame(f);
        s.position_.sent_now(t.position, std::move(f), std::chrono::steady_clock::now());
      }
      if (!v.q.config().message.empty()) s.queue_frame(sse::message(t.seq, v.q.config().message));
      s.pump();
      break;
    }
    case TicketState::active:
      s.seq_ = t.seq - 1;  // let tell_admitted accept this seq (the frames were cleared above)
      s.state_ = TicketState::waiting;
      tell_admitted(v, s, t.id, t.expires_ms, t.seq, 0);
      if (!v.q.config().message.empty()) {
        s.queue_frame(sse::message(t.seq, v.q.config().message));
        s.pump();
      }
      break;
    case TicketState::ended:
      s.seq_ = t.seq - 1;
      tell_ended(s, t.reason, t.seq);
      break;
  }
}

asio::awaitable<Result<std::shared_ptr<Stream>>> Hub::open(std::string q, std::string t) {
  if (stopping_) co_return err(Errc::over_capacity, "shutting down");
  std::shared_ptr<Stream> sp(new Stream(*this, q, t, cfg_));
  {
    View& v = view(q);
    v.by_ticket.emplace(t, sp.get());
    v.streams.emplace(sp.get(), sp);
    ++streams_total_;
  }
  auto tk = co_await store_.get_ticket(q, t, true, wall_ms());
  if (!tk) {
    close(sp);
    co_return tk.error();
  }
  View& v = view(q);
  // A pre-queue entrant's first frame shows the entrants so far: the store's count when this
  // process's events are not as far as the ticket's read (the view's count otherwise).
  bool prequeue = tk->state == TicketState::waiting && tk->entrant && tk->place == 0;
  int64_t entrants = -1;
  if (!v.q.known() || (prequeue && (v.q.loading() || v.q.seq() < tk->seq))) {
    auto qi = co_await store_.get_queue(q);
    if (qi && !v.q.known()) {
      if (v.q.seq() == 0 && !v.q.loading()) v.q.set_draw(qi->draw, qi->seq);
      v.q.configure(qi->config);
      v.q.set_closed(qi->closed);
      count_entrants(v);
    }
    if (qi) entrants = qi->draw.entrants;
  }
  if (v.q.seq() < tk->seq && !v.q.loading()) resync(q);  // behind the store: catch up
  start(v, *sp, *tk, std::max(entrants, v.q.draw().entrants));
  co_return sp;
}

std::vector<std::pair<std::string, int64_t>> Hub::streams_by_queue() const {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [name, v] : views_)
    if (!v->streams.empty()) out.emplace_back(name, static_cast<int64_t>(v->streams.size()));
  return out;
}

void Hub::close(const std::shared_ptr<Stream>& sp) {
  auto it = views_.find(sp->queue_);
  if (it == views_.end()) return;
  View& v = *it->second;
  if (v.streams.erase(sp.get()) == 0) return;
  auto [b, e] = v.by_ticket.equal_range(sp->ticket_);
  for (auto i = b; i != e; ++i)
    if (i->second == sp.get()) {
      v.by_ticket.erase(i);
      break;
    }
  v.by_order.erase({sp->order_, sp.get()});
  held_.erase(sp.get());
  --streams_total_;
  // A stream asked for a queue this process never heard of (e.g. a made-up name): forget the
  // empty view again, so such requests cost no memory.
  if (v.streams.empty() && !v.q.known() && v.q.seq() == 0 && !v.q.loading()) {
    dirty_.erase(&v);
    far_pending_.erase(&v);
    views_.erase(it);
  }
}

int64_t Hub::eta(const std::string& q, const QueueConfig& c, int64_t position, Millis now) {
  auto it = views_.find(q);
  double rate = it == views_.end() ? -1 : it->second->q.admit_rate(now);
  return rules::eta_seconds(position, rate, c);
}

const QueueConfig* Hub::config(const std::string& q) const {
  auto it = views_.find(q);
  return it != views_.end() && it->second->q.known() ? &it->second->q.config() : nullptr;
}

double Hub::admit_rate(const std::string& q, Millis now) {
  auto it = views_.find(q);
  double r = it == views_.end() ? -1 : it->second->q.admit_rate(now);
  return r < 0 ? 0 : r;
}

void Hub::shutdown(std::chrono::milliseconds retry) {
  stopping_ = true;
  tasks_.stop();  // timers and store tasks end now; the streams' last bytes still go out
  std::string f = sse::retry(retry);
  for (auto& [_, v] : views_)
    for (auto& [s, __] : v->streams) {
      s->queue_frame(f);
      s->finished_ = true;
      s->position_.drop();
      s->pump();
    }
  held_.clear();
  held_due_ = {};
}

void Hub::resync_all() {
  std::vector<std::string> names;
  for (auto& [name, _] : views_) names.push_back(name);
  for (auto& n : names) resync(n);
}

void Hub::resync(const std::string& q) {
  View& v = view(q);
  if (v.q.loading()) return;
  v.q.begin_reload();
  m_resyncs_.inc();
  tasks_.spawn(resync_task(q));
}

}  // namespace anteroom
