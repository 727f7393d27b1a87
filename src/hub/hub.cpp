#include "core/encoding.hpp"
#include "hub/hub.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>

#include <boost/json.hpp>
#include <chrono>

#include "token/admission.hpp"

namespace anteroom {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Frames differ in their id line only: compare what follows it.
bool same_payload(std::string_view a, std::string_view b) {
  auto body = [](std::string_view f) { return f.substr(std::min(f.find('\n'), f.size())); };
  return !b.empty() && body(a) == body(b);
}

std::string frame(std::string_view event, uint64_t id, std::string_view data) {
  std::string f;
  f.reserve(32 + event.size() + data.size());
  f += "id: ";
  f += std::to_string(id);
  f += "\nevent: ";
  f += event;
  f += "\ndata: ";
  f += data;
  f += "\n\n";
  return f;
}
}  // namespace

struct Hub::View {
  std::string name;
  bool known = false;  // config loaded
  QueueConfig config;
  bool closed = false;
  uint64_t seq = 0;
  bool loading = false;
  bool force = false;  // re-send every position (config changed, resync)
  std::vector<Event> buffered;  // events that arrived during a resync or after a gap
  PositionIndex index;
  rules::RateEstimator rate;
  std::unordered_multimap<std::string, Stream*> by_ticket;
  std::unordered_map<Stream*, std::shared_ptr<Stream>> streams;
  Millis last_touch_ms = 0;
};

// ---- Stream ----

void Stream::notify() { hub_.pump(*this); }

bool Stream::drain(std::string& out) {
  out += frames_;
  frames_.clear();
  if (!position_dirty_) return false;
  auto now = Clock::now();
  if (position_ > cfg_.near_position && now - position_sent_ < cfg_.far_interval) return true;
  out += position_frame_;
  position_dirty_ = false;
  position_sent_ = now;
  return false;
}

// ---- Hub ----

Hub::Hub(asio::io_context& io, QueueStore& store, const TokenSigner& signer,
         metrics::Registry& m, HubConfig cfg)
    : io_(io),
      store_(store),
      signer_(signer),
      cfg_(cfg),
      m_events_(m.counter("hub_events_total", "Events received by this process's hub")),
      m_duplicates_(m.counter("hub_duplicates_dropped_total", "Events dropped as duplicates")),
      m_resyncs_(m.counter("hub_resyncs_total", "Queue resynchronisations from the store")),
      m_positions_sent_(m.counter("sse_positions_total", "Position updates queued to streams")),
      m_admissions_sent_(m.counter("sse_admissions_total", "Admissions told to open streams")),
      m_admit_latency_(m.histogram("admission_to_sse_ms",
                                   "From the admission (store time) to the frame queued on a local stream",
                                   {1, 2, 3, 5, 7.5, 10, 15, 20, 25, 50, 100, 250, 500, 1000, 5000})) {
  m.gauge_fn("sse_streams", "Open SSE streams", [this] { return double(streams_total_); });
  if (cfg_.parallel_send_min > 0) sender_ = std::make_unique<SendWorker>();
  asio::co_spawn(io_, heartbeat_loop(), asio::detached);
  asio::co_spawn(io_, touch_loop(), asio::detached);
  asio::co_spawn(io_, hold_loop(), asio::detached);
}

Hub::~Hub() { *alive_ = false; }

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
  if (v.loading) {
    v.buffered.push_back(e);
    return;
  }
  if (e.seq <= v.seq) {
    m_duplicates_.inc();
    return;
  }
  if (e.seq != v.seq + 1) {
    v.buffered.push_back(e);
    resync(e.queue);
    return;
  }
  apply(v, e);
  schedule_flush(v);
}

void Hub::apply(View& v, const Event& e) {
  auto for_ticket = [&](auto&& fn) {
    auto [b, end] = v.by_ticket.equal_range(e.ticket);
    for (auto it = b; it != end; ++it) fn(*it->second);
  };
  switch (e.type) {
    case EventType::joined:
      v.index.insert(e.order);
      break;
    case EventType::admitted:
      v.index.erase(e.order);
      v.rate.record(e.at_ms);
      for_ticket([&](Stream& s) { tell_admitted(v, s, e.ticket, e.expires_ms, e.seq, e.at_ms); });
      break;
    case EventType::left:
    case EventType::abandoned:
      v.index.erase(e.order);
      [[fallthrough]];
    case EventType::expired:
    case EventType::completed:
      for_ticket([&](Stream& s) { tell_ended(s, end_reason_of(e.type), e.seq); });
      break;
    case EventType::config_changed:
      v.closed = false;
      asio::co_spawn(io_, refresh_config(v.name), asio::detached);
      break;
    case EventType::closed:
      v.index.clear();
      v.closed = true;
      for (auto& [s, _] : v.streams)
        if (s->state_ == TicketState::waiting) tell_ended(*s, EndReason::closed, e.seq);
      break;
  }
  v.seq = e.seq;
}

void Hub::tell_admitted(View& v, Stream& s, const std::string& ticket, Millis expires_ms,
                        uint64_t seq, Millis admitted_at) {
  if (seq <= s.seq_ || s.state_ == TicketState::ended) return;
  Admission a = admission_for(signer_, v.name, ticket, expires_ms, v.config.target_url);
  boost::json::object o;
  o["token"] = a.token;
  o["expires_at"] = a.expires_at;
  o["redirect"] = a.redirect;
  s.queue_frame(frame("admitted", seq, boost::json::serialize(o)));
  s.state_ = TicketState::active;
  s.position_dirty_ = false;
  s.seq_ = seq;
  m_admissions_sent_.inc();
  if (admitted_at > 0) m_admit_latency_.observe(static_cast<double>(wall_ms() - admitted_at));
  s.notify();
}

void Hub::tell_ended(Stream& s, EndReason r, uint64_t seq) {
  if (seq <= s.seq_ || s.state_ == TicketState::ended) return;
  std::string data = "{\"reason\":\"" + std::string(to_string(r)) + "\"}";
  s.queue_frame(frame("ended", seq, data));
  s.state_ = TicketState::ended;
  s.position_dirty_ = false;
  s.finished_ = true;
  s.seq_ = seq;
  s.notify();
}

std::string Hub::position_frame(const View& v, int64_t position, uint64_t id, Millis now) {
  int64_t eta = rules::eta_seconds(position, v.rate.rate(now), v.config);
  char data[128];
  int n = std::snprintf(data, sizeof data, "{\"position\":%lld,\"eta_s\":%lld,\"paused\":%s}",
                        static_cast<long long>(position), static_cast<long long>(eta),
                        v.config.paused ? "true" : "false");
  return frame("position", id, std::string_view(data, n));
}

void Hub::schedule_flush(View& v) {
  dirty_.insert(&v);
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (*alive) flush();
  });
}

// One flush's sends. Small: each stream is pumped as it is added. Large (parallel_send_min
// streams or more): the sends are the cost (each a TCP transmit), so they are shared with the
// send worker, pipelined with the io thread's own work: the io thread prepares streams (their
// frames are made as the flush goes) and publishes them in chunks; the worker sends each chunk
// as soon as it is published; when the flush has added everything, the io thread sends too.
// Only send(2) on published descriptors happens off the io thread; results are applied here.
class Hub::Fanout {
 public:
  Fanout(Hub& hub, size_t capacity)
      : hub_(hub), parallel_(hub.sender_ && capacity >= hub.cfg_.parallel_send_min) {
    if (!parallel_) return;
    go_.resize(capacity);  // fixed: the worker reads it while the io thread fills it
    sent_.resize(capacity);
    hub_.sender_->run([this] { send_chunks(); });
  }
  ~Fanout() {
    if (parallel_ && !finished_) {  // (only if finish() was skipped: release the worker)
      publish(n_ | kDone);
      hub_.sender_->wait();
    }
  }
  Fanout(const Fanout&) = delete;
  Fanout& operator=(const Fanout&) = delete;

  void add(Stream& s) {
    if (!parallel_) {
      hub_.pump(s);
      return;
    }
    if (!hub_.prepare(s) || n_ == go_.size()) return;
    go_[n_] = &s;
    sent_[n_].fd = s.sock_->native_handle();
    if (++n_ % kChunk == 0) publish(n_);
  }

  void finish() {
    if (!parallel_) return;
    finished_ = true;
    publish(n_ | kDone);
    send_chunks();
    hub_.sender_->wait();
    for (size_t i = 0; i < n_; ++i) {
      boost::system::error_code ec;
      if (sent_[i].err == EAGAIN || sent_[i].err == EWOULDBLOCK) ec = asio::error::would_block;
      else if (sent_[i].err) ec.assign(sent_[i].err, boost::system::system_category());
      hub_.written(*go_[i], sent_[i].n, ec);
    }
  }

 private:
  static constexpr size_t kChunk = 256;
  static constexpr uint64_t kDone = uint64_t{1} << 63;
  struct Sent {
    int fd = -1;
    size_t n = 0;
    int err = 0;
  };

  void publish(uint64_t v) {
    ready_.store(v, std::memory_order_release);
    ready_.notify_all();
  }
  // Claims chunks until every published stream is claimed and the flush is done.
  void send_chunks() {
    for (;;) {
      size_t b = next_.fetch_add(kChunk, std::memory_order_relaxed);
      size_t e = b + kChunk;
      uint64_t r = ready_.load(std::memory_order_acquire);
      while ((r & ~kDone) < e && !(r & kDone)) {
        ready_.wait(r, std::memory_order_acquire);
        r = ready_.load(std::memory_order_acquire);
      }
      e = std::min<size_t>(e, r & ~kDone);
      if (b >= e) return;
      for (size_t i = b; i < e; ++i) {
        const std::string& out = go_[i]->out_;
        ssize_t n = ::send(sent_[i].fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) sent_[i].n = static_cast<size_t>(n);
        else sent_[i].err = errno;
      }
    }
  }

  Hub& hub_;
  bool parallel_;
  bool finished_ = false;
  std::vector<Stream*> go_;
  std::vector<Sent> sent_;
  size_t n_ = 0;                      // prepared (io thread only)
  std::atomic<uint64_t> ready_{0};    // published count, | kDone when the flush has ended
  std::atomic<size_t> next_{0};       // the next chunk to claim
};

// Once per batch of events (not once per event): recompute the position of every local waiting
// stream in the queues that changed. O(local streams · log n), no store call.
void Hub::flush() {
  flush_scheduled_ = false;
  Millis now = wall_ms();
  auto dirty = std::move(dirty_);
  dirty_.clear();
  size_t streams = 0;
  for (View* v : dirty) streams += v->streams.size();
  Fanout out(*this, streams);
  for (View* v : dirty) {
    bool force = v->force;
    v->force = false;
    for (auto& [s, _] : v->streams) {
      if (!s->started_ || s->state_ != TicketState::waiting || v->seq < s->seq_) continue;
      if (!v->index.contains(s->order_)) continue;  // its admitted/ended event will tell it
      int64_t pos = v->index.rank(s->order_);
      if (pos == s->position_ && !force) continue;
      std::string f = position_frame(*v, pos, v->seq, now);
      // A forced refresh (config change, resync) that shows nothing new is not sent.
      if (pos == s->position_ && same_payload(f, s->position_frame_)) continue;
      s->position_ = pos;
      s->position_frame_ = std::move(f);
      s->position_dirty_ = true;
      s->seq_ = v->seq;
      m_positions_sent_.inc();
      out.add(*s);
    }
  }
  out.finish();
}

void Hub::start(View& v, Stream& s, const Ticket& t) {
  s.started_ = true;
  s.order_ = t.order;
  if (s.seq_ > t.seq) return;  // an event newer than the store's answer already told it
  s.frames_.clear();
  s.finished_ = false;
  s.seq_ = t.seq;
  switch (t.state) {
    case TicketState::waiting:
      s.state_ = TicketState::waiting;
      s.position_ = t.position;
      s.position_frame_ = position_frame(v, t.position, t.seq, wall_ms());
      s.queue_frame(s.position_frame_);
      s.position_sent_ = Clock::now();
      s.notify();
      break;
    case TicketState::active:
      s.seq_ = t.seq - 1;  // let tell_admitted accept this seq
      tell_admitted(v, s, t.id, t.expires_ms, t.seq, 0);
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
  if (!v.known) {
    auto qi = co_await store_.get_queue(q);
    if (qi && !v.known) {
      v.config = qi->config;
      v.closed = qi->closed;
      v.known = true;
    }
  }
  if (v.seq < tk->seq && !v.loading) resync(q);  // this process is behind the store: catch up
  start(v, *sp, *tk);
  co_return sp;
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
  held_.erase(sp.get());
  --streams_total_;
  // A stream asked for a queue this process never heard of (e.g. a made-up name): forget the
  // empty view again, so such requests cost no memory.
  if (v.streams.empty() && !v.known && v.seq == 0 && !v.loading) views_.erase(it);
}

std::shared_ptr<Stream> Hub::shared(Stream& s) {
  auto it = views_.find(s.queue_);
  if (it == views_.end()) return nullptr;
  auto st = it->second->streams.find(&s);
  return st == it->second->streams.end() ? nullptr : st->second;
}

void Hub::attach(const std::shared_ptr<Stream>& sp, asio::ip::tcp::socket sock, std::string head,
                 std::function<void()> on_detach) {
  boost::system::error_code ec;
  sock.non_blocking(true, ec);
  sp->sock_ = std::make_unique<asio::ip::tcp::socket>(std::move(sock));
  sp->out_ = std::move(head);
  sp->on_detach_ = std::move(on_detach);
  watch_close(sp);
  pump(*sp);
}

// Writes what is due: a non-blocking send of everything at once; what the socket does not take
// goes out with one async write, and later frames wait in frames_ meanwhile.
void Hub::pump(Stream& s) {
  if (!prepare(s)) return;
  boost::system::error_code ec;
  size_t n = s.sock_->write_some(asio::buffer(s.out_), ec);
  written(s, n, ec);
}

// Moves what is due into the stream's output; true if there is something to send now.
bool Hub::prepare(Stream& s) {
  if (!s.sock_ || s.closed_ || s.writing_) return false;
  if (s.drain(s.out_)) held_.insert(&s);
  if (s.out_.empty()) {
    if (s.finished()) end_stream(s);
    return false;
  }
  return true;
}

// After a non-blocking send of n bytes: the rest waits for the socket (async_write).
void Hub::written(Stream& s, size_t n, boost::system::error_code ec) {
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    end_stream(s);
    return;
  }
  s.out_.erase(0, n);
  if (s.out_.empty()) {
    if (s.finished()) end_stream(s);
    return;
  }
  auto self = shared(s);
  if (!self) return;
  s.writing_ = true;
  s.blocked_since_ = Clock::now();
  asio::async_write(*s.sock_, asio::buffer(s.out_),
                    [this, self, alive = alive_](boost::system::error_code ec, size_t) {
                      if (!*alive) return;
                      self->writing_ = false;
                      if (ec) {
                        end_stream(*self);
                        return;
                      }
                      self->out_.clear();
                      pump(*self);
                    });
}

// A client that goes away is noticed at once: the socket becomes readable (EOF). Clients send
// nothing on an event stream; anything they do send is read and dropped.
void Hub::watch_close(std::shared_ptr<Stream> sp) {
  Stream* s = sp.get();
  s->sock_->async_wait(asio::socket_base::wait_read,
                       [this, sp = std::move(sp), alive = alive_](boost::system::error_code ec) {
                         if (!*alive || sp->closed_) return;
                         if (ec) {
                           end_stream(*sp);
                           return;
                         }
                         char buf[256];
                         boost::system::error_code rec;
                         size_t n = sp->sock_->read_some(asio::buffer(buf), rec);
                         if (rec == asio::error::would_block || rec == asio::error::try_again) {
                           watch_close(sp);
                           return;
                         }
                         if (rec || n == 0) {
                           end_stream(*sp);
                           return;
                         }
                         watch_close(sp);
                       });
}

// Closes the connection and forgets the stream. The removal from the hub's maps is posted, so
// it is safe from inside a loop over them.
void Hub::end_stream(Stream& s) {
  if (s.closed_) return;
  s.closed_ = true;
  held_.erase(&s);
  boost::system::error_code ec;
  if (s.sock_) {
    s.sock_->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    s.sock_->close(ec);
  }
  if (auto detach = std::move(s.on_detach_)) detach();
  if (auto sp = shared(s))
    asio::post(io_, [this, sp, alive = alive_] {
      if (*alive) close(sp);
    });
}

// Positions held back by the coalescing go out when their second is up.
asio::awaitable<void> Hub::hold_loop() {
  auto alive = alive_;
  asio::steady_timer t(io_);
  while (*alive && !stopping_) {
    t.expires_after(std::chrono::milliseconds(50));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive) co_return;
    if (held_.empty()) continue;
    std::vector<Stream*> due(held_.begin(), held_.end());
    held_.clear();
    for (Stream* s : due) pump(*s);  // held again if its time has not come
  }
}

int64_t Hub::eta(const std::string& q, const QueueConfig& c, int64_t position, Millis now) {
  auto it = views_.find(q);
  double rate = it == views_.end() ? -1 : it->second->rate.rate(now);
  return rules::eta_seconds(position, rate, c);
}

const QueueConfig* Hub::config(const std::string& q) const {
  auto it = views_.find(q);
  return it != views_.end() && it->second->known ? &it->second->config : nullptr;
}

double Hub::admit_rate(const std::string& q, Millis now) {
  auto it = views_.find(q);
  double r = it == views_.end() ? -1 : it->second->rate.rate(now);
  return r < 0 ? 0 : r;
}

void Hub::shutdown(std::chrono::milliseconds retry) {
  stopping_ = true;
  std::string f = "retry: " + std::to_string(retry.count()) + "\n\n";
  for (auto& [_, v] : views_)
    for (auto& [s, __] : v->streams) {
      s->queue_frame(f);
      s->finished_ = true;
      s->position_dirty_ = false;
      s->notify();
    }
  held_.clear();
}

void Hub::resync_all() {
  std::vector<std::string> names;
  for (auto& [name, _] : views_) names.push_back(name);
  for (auto& n : names) resync(n);
}

void Hub::resync(const std::string& q) {
  View& v = view(q);
  if (v.loading) return;
  v.loading = true;
  m_resyncs_.inc();
  asio::co_spawn(io_, resync_task(q), asio::detached);
}

asio::awaitable<void> Hub::resync_task(std::string q) {
  auto alive = alive_;
  for (int attempt = 0;; ++attempt) {
    auto snap = co_await store_.snapshot(q);
    if (!*alive) co_return;
    if (snap) {
      View& v = view(q);
      v.index.assign(snap->waiting_orders);
      v.seq = snap->info.seq;
      // After a store restart seq may have gone back: streams must accept what follows.
      for (auto& [s, _] : v.streams) s->seq_ = std::min(s->seq_, v.seq);
      v.config = snap->info.config;
      v.closed = snap->info.closed;
      v.known = true;
      auto buffered = std::move(v.buffered);
      v.buffered.clear();
      std::sort(buffered.begin(), buffered.end(),
                [](const Event& a, const Event& b) { return a.seq < b.seq; });
      v.loading = false;
      for (auto& e : buffered) publish(e);  // applies in order; a new gap resyncs again
      // Streams whose ticket left the line while we were not listening: ask the store.
      std::vector<std::shared_ptr<Stream>> unknown;
      for (auto& [s, sp] : v.streams)
        if (s->started_ && s->state_ == TicketState::waiting && !v.index.contains(s->order_))
          unknown.push_back(sp);
      v.force = true;
      schedule_flush(v);
      for (auto& sp : unknown) {
        auto t = co_await store_.get_ticket(q, sp->ticket_, false, wall_ms());
        if (!*alive) co_return;
        if (!t) continue;
        View& vv = view(q);
        if (t->state == TicketState::active) tell_admitted(vv, *sp, t->id, t->expires_ms, t->seq, 0);
        if (t->state == TicketState::ended) tell_ended(*sp, t->reason, t->seq);
      }
      co_return;
    }
    if (snap.error().code == Errc::queue_not_found) {
      view(q).loading = false;
      co_return;
    }
    asio::steady_timer t(io_, std::chrono::milliseconds(std::min(2000, 100 << std::min(attempt, 4))));
    co_await t.async_wait(asio::use_awaitable);
    if (!*alive) co_return;
  }
}

asio::awaitable<void> Hub::refresh_config(std::string q) {
  auto alive = alive_;
  auto qi = co_await store_.get_queue(q);
  if (!*alive || !qi) co_return;
  View& v = view(q);
  v.config = qi->config;
  v.known = true;
  v.force = true;
  schedule_flush(v);
}

asio::awaitable<void> Hub::heartbeat_loop() {
  auto alive = alive_;
  asio::steady_timer t(io_);
  while (*alive && !stopping_) {
    t.expires_after(cfg_.heartbeat);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive || stopping_) co_return;
    auto now = Clock::now();
    for (auto& [_, v] : views_)
      for (auto& [s, __] : v->streams) {
        if (!s->started_) continue;
        if (s->writing_ && now - s->blocked_since_ > cfg_.write_timeout) {
          end_stream(*s);  // it stopped reading: do not hold its data forever
          continue;
        }
        s->queue_frame(": hb\n\n");
        s->notify();
      }
  }
}

// Open streams keep their tickets from being abandoned: one batched touch per queue, about
// three times per abandon_after_s (never more often than touch_floor).
asio::awaitable<void> Hub::touch_loop() {
  auto alive = alive_;
  asio::steady_timer t(io_);
  while (*alive && !stopping_) {
    t.expires_after(cfg_.touch_floor);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive || stopping_) co_return;
    Millis now = wall_ms();
    std::vector<std::pair<std::string, std::vector<std::string>>> batches;
    for (auto& [name, v] : views_) {
      if (v->streams.empty()) continue;
      Millis every = std::max<Millis>(cfg_.touch_floor.count(), v->config.abandon_after_s * 1000 / 3);
      if (now - v->last_touch_ms < every) continue;
      v->last_touch_ms = now;
      std::vector<std::string> ids;
      for (auto& [s, _] : v->streams)
        if (s->state_ == TicketState::waiting) ids.push_back(s->ticket_);
      if (!ids.empty()) batches.emplace_back(name, std::move(ids));
    }
    for (auto& [q, ids] : batches) {
      (void)co_await store_.touch(q, std::move(ids), now);
      if (!*alive) co_return;
    }
  }
}

}  // namespace anteroom
