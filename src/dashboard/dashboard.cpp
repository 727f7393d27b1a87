// The sample loop, the overview frame, the history, and the admin event streams (watchers).
#include "dashboard/dashboard.hpp"

#include <boost/asio/write.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <unordered_map>

#include "async/close_watch.hpp"
#include "async/task_group.hpp"
#include "core/encoding.hpp"
#include "core/rules.hpp"
#include "dashboard/frame.hpp"
#include "dashboard/series.hpp"
#include "views/json_writer.hpp"

namespace anteroom::dashboard {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// A watcher that has not taken a frame for this long is a reader that stopped reading (or a
// dead peer TCP has not yet noticed): it is closed so that it frees its place among the
// max_watchers.
constexpr auto kStuckWatcher = std::chrono::seconds(30);

// What /metrics shows of the latest sample. Shared with the registry's collector, which may
// outlive the Dashboard (a registry has no way to remove a collector) and renders on whichever
// thread serves /metrics: hence its own lock.
struct Exported {
  std::mutex mu;
  std::vector<QueueFigures> queues;
};

}  // namespace

// One admin event stream. At most one write in flight; a frame that comes while one is in
// flight is skipped (the next frame is whole state). Lifetime: shared by the Dashboard's list
// and its pending operations; once closed, a completion touches nothing but the watcher, so it
// may outlive the Dashboard.
struct Watcher : std::enable_shared_from_this<Watcher> {
  Watcher(asio::ip::tcp::socket s, std::function<void()> detach, std::function<void(Watcher*)> gone)
      : sock(std::move(s)), on_detach(std::move(detach)), on_gone(std::move(gone)) {}

  void send(std::shared_ptr<const std::string> bytes) {
    if (closed) return;
    if (writing) {
      if (Clock::now() - busy_since > kStuckWatcher) end();
      return;  // skipped: this reader has not taken the previous frame yet
    }
    writing = true;
    busy_since = Clock::now();
    asio::async_write(sock, asio::buffer(*bytes),
                      [self = shared_from_this(), bytes](boost::system::error_code ec, size_t) {
                        if (self->closed) return;
                        self->writing = false;
                        if (ec) self->end();
                      });
  }

  // A client that goes away is noticed at once (async/close_watch.hpp).
  void watch_close() {
    async::watch_close(sock, shared_from_this(), [this] { return closed; }, [this] { end(); });
  }

  // Closes the connection, runs on_detach once, and leaves the Dashboard's list.
  void end() {
    if (closed) return;
    closed = true;
    boost::system::error_code ec;
    sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    sock.close(ec);
    auto keep = shared_from_this();  // the list may hold the last reference
    if (auto detach = std::move(on_detach)) detach();
    if (auto gone = std::move(on_gone)) gone(this);
  }

  asio::ip::tcp::socket sock;
  std::function<void()> on_detach;
  std::function<void(Watcher*)> on_gone;
  bool writing = false;
  bool closed = false;
  Clock::time_point busy_since{};
};

struct Dashboard::Impl {
  Impl(asio::io_context& io, QueueStore& store, FleetBoard& fleet, metrics::Registry& m,
       LocalProbe probe, Options opt)
      : io(io),
        store(store),
        fleet(fleet),
        registry(m),
        probe(std::move(probe)),
        opt(std::move(opt)),
        started_ms(wall_ms()),
        tasks(io.get_executor()) {
    build_frame(wall_ms(), {});
    if (this->opt.sample.count() <= 0) return;
    m_store_up = &m.gauge("store_up", "1 if the dashboard's last read of the store succeeded");
    m_sample = &m.histogram("dashboard_sample_seconds",
                            "Time one dashboard sample took (store read, fleet board, frame)",
                            {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
    m.collector([ex = exported](std::string& out) {
      std::lock_guard lk(ex->mu);
      append_queue_metrics(out, ex->queues);
    });
  }

  // The state of one queue the dashboard has seen.
  struct Series {
    explicit Series(size_t cap) : ring(cap) {}
    QueueInfo info;  // as last read
    std::optional<Totals> prev;
    Ring ring;
    Point last;  // the newest point (also in the ring)
  };

  asio::awaitable<void> loop();
  asio::awaitable<void> sample();
  void build_frame(Millis now, const std::vector<ProcessRow>& rows);
  ProcessRow own_row(Millis now) const;
  void broadcast();
  void export_metrics(Millis now, const std::unordered_map<std::string, int64_t>& local);
  void stop();

  asio::io_context& io;
  QueueStore& store;
  FleetBoard& fleet;
  metrics::Registry& registry;
  LocalProbe probe;
  Options opt;
  Millis started_ms;
  async::TaskGroup tasks;
  bool started = false;
  bool stopped = false;
  bool store_up = false;
  uint64_t samples = 0;
  std::map<std::string, Series, std::less<>> series;  // by name: the frame's order
  std::string frame;
  std::vector<std::shared_ptr<Watcher>> watchers;
  std::shared_ptr<Exported> exported = std::make_shared<Exported>();
  metrics::Gauge* m_store_up = nullptr;
  metrics::Histogram* m_sample = nullptr;
};

asio::awaitable<void> Dashboard::Impl::loop() {
  for (bool more = true; more;) {
    const auto next = Clock::now() + opt.sample;
    co_await sample();
    if (co_await async::cancelled()) co_return;
    more = co_await async::sleep_until(next);
  }
}

ProcessRow Dashboard::Impl::own_row(Millis now) const {
  ProcessRow r;
  r.node = opt.node_id;
  r.started_ms = started_ms;
  r.seen_ms = now;
  if (probe.streams_by_queue) r.streams_by_queue = probe.streams_by_queue();
  for (const auto& [q, n] : r.streams_by_queue) r.streams += n;
  r.admin_streams = static_cast<int64_t>(watchers.size());
  if (probe.connections) r.connections = probe.connections();
  // The pipeline's own metrics: registered only where the process runs that part.
  r.relay_lag_ms = registry.value("relay_lag_ms");
  r.outbox_backlog = registry.value("outbox_backlog");
  r.consumer_lag = registry.value("consumer_lag");
  r.pubsub_reconnects = registry.value("pubsub_reconnects_total");
  return r;
}

// One sample. After each await that a stop cannot interrupt (the store, the board), the
// coroutine checks that it was not cancelled before it touches the Dashboard again: the
// Dashboard may be gone by then.
asio::awaitable<void> Dashboard::Impl::sample() {
  const auto t0 = Clock::now();
  QueueStore& st = store;
  FleetBoard& board = fleet;
  auto listed = co_await st.list_queues();
  if (co_await async::cancelled()) co_return;
  Millis now = wall_ms();
  store_up = listed.ok();
  if (listed) {
    // Queues the store no longer has are forgotten here too: memory follows the live queues.
    std::map<std::string, Series, std::less<>> next;
    for (QueueInfo& q : *listed) {
      auto it = series.find(q.name);
      Series s = it != series.end() ? std::move(it->second) : Series(opt.history_points);
      s.last = next_point(q, s.prev, now);
      s.prev = Totals::of(q, now);
      s.info = std::move(q);
      std::string name = s.info.name;
      next.emplace(std::move(name), std::move(s));
    }
    series = std::move(next);
  }
  // (A failed read keeps the last frame's queues and their last points: the operator still
  // sees the fleet and the streams, with store_up 0 in /metrics.)

  ProcessRow mine = own_row(now);
  auto published = co_await board.publish(mine);
  if (co_await async::cancelled()) co_return;
  auto read = co_await board.rows(now, opt.forget_ms);
  if (co_await async::cancelled()) co_return;
  (void)published;  // a board that cannot be written may still be read (and vice versa)
  std::vector<ProcessRow> rows;
  if (read) {
    for (ProcessRow& r : *read)
      if (r.node != opt.node_id) rows.push_back(std::move(r));
  }
  // This process's row is always its fresh one, whatever the board answered.
  std::unordered_map<std::string, int64_t> local;
  for (const auto& [q, n] : mine.streams_by_queue) local[q] += n;
  rows.push_back(std::move(mine));
  std::sort(rows.begin(), rows.end(),
            [](const ProcessRow& a, const ProcessRow& b) { return a.node < b.node; });

  // A queue's streams: the sum over the live (not stale) processes' rows.
  std::unordered_map<std::string, int64_t> streams;
  for (const ProcessRow& r : rows) {
    if (now - r.seen_ms > opt.stale_ms) continue;
    for (const auto& [q, n] : r.streams_by_queue) streams[q] += n;
  }
  for (auto& [name, s] : series) {
    auto it = streams.find(name);
    s.last.streams = it == streams.end() ? 0 : it->second;
    if (listed) {
      s.last.eta_last_s = eta_last_s(s.ring, s.last);
      s.ring.push(s.last);
    }
  }
  build_frame(now, rows);
  export_metrics(now, local);
  broadcast();
  ++samples;
  if (m_store_up) m_store_up->set(store_up ? 1 : 0);
  if (m_sample) m_sample->observe(std::chrono::duration<double>(Clock::now() - t0).count());
}

void Dashboard::Impl::build_frame(Millis now, const std::vector<ProcessRow>& rows) {
  std::string f;
  f.reserve(frame.size() + 256);
  views::JsonWriter w(f);
  w.num("t_ms", now);
  w.str("node", opt.node_id);
  w.str("mode", opt.mode);
  std::string qs = "[";
  for (const auto& [name, s] : series) {
    if (qs.size() > 1) qs += ',';
    const QueueInfo& q = s.info;
    views::JsonWriter r(qs);
    r.str("name", name);
    r.str("state", rules::queue_state(q, now));
    r.str("mode", to_string(q.config.mode));
    r.boolean("paused", q.config.paused);
    r.real("admit_per_s", q.config.admit_per_s);
    r.num("max_active", q.config.max_active);
    r.str("message", q.config.message);
    r.str("draw", to_string(q.draw.state));
    point_fields(r, s.last);
    r.close();
  }
  qs += ']';
  w.raw("queues", qs);
  std::string ps = "[";
  for (const ProcessRow& p : rows) {
    if (ps.size() > 1) ps += ',';
    const Millis age = std::max<Millis>(0, now - p.seen_ms);
    append_process_json(ps, p, p.node == opt.node_id, age > opt.stale_ms, age / 1000);
  }
  ps += ']';
  w.raw("processes", ps);
  w.close();
  frame = std::move(f);
}

void Dashboard::Impl::export_metrics(Millis now,
                                     const std::unordered_map<std::string, int64_t>& local) {
  std::vector<QueueFigures> qs;
  qs.reserve(series.size());
  for (const auto& [name, s] : series) {
    QueueFigures f;
    f.name = name;
    f.waiting = s.info.stats.waiting;
    f.active = s.info.stats.active;
    f.oldest_wait_s = s.last.oldest_wait_s;
    f.joined_total = s.info.stats.joined_total;
    f.admitted_total = s.info.stats.admitted_total;
    f.abandoned_total = s.info.stats.abandoned_total;
    f.paused = s.info.config.paused;
    f.closed = rules::queue_state(s.info, now) == "closed";
    auto it = local.find(name);
    f.local_streams = it == local.end() ? 0 : it->second;
    qs.push_back(std::move(f));
  }
  std::lock_guard lk(exported->mu);
  exported->queues = std::move(qs);
}

// The frame is encoded once; every watcher writes the same bytes.
void Dashboard::Impl::broadcast() {
  if (watchers.empty()) return;
  auto bytes = std::make_shared<const std::string>("event: overview\ndata: " + frame + "\n\n");
  auto ws = watchers;  // a watcher may leave the list while it is being sent to
  for (auto& w : ws) w->send(bytes);
}

void Dashboard::Impl::stop() {
  stopped = true;
  tasks.stop();
  auto ws = std::move(watchers);
  watchers.clear();
  for (auto& w : ws) w->end();
}

Dashboard::Dashboard(asio::io_context& io, QueueStore& store, FleetBoard& fleet,
                     metrics::Registry& metrics, LocalProbe probe, Options opt)
    : impl_(std::make_unique<Impl>(io, store, fleet, metrics, std::move(probe), std::move(opt))) {}

Dashboard::~Dashboard() { impl_->stop(); }

void Dashboard::start() {
  if (!enabled() || impl_->started || impl_->stopped) return;
  impl_->started = true;
  impl_->tasks.spawn(impl_->loop());
}

void Dashboard::stop() { impl_->stop(); }

bool Dashboard::enabled() const { return impl_->opt.sample.count() > 0; }

const std::string& Dashboard::overview() const { return impl_->frame; }

std::optional<std::string> Dashboard::history(std::string_view q) const {
  auto it = impl_->series.find(q);
  if (it == impl_->series.end() || it->second.ring.size() == 0) return std::nullopt;
  const Ring& ring = it->second.ring;
  std::string out;
  out.reserve(64 + ring.size() * 170);
  views::JsonWriter w(out);
  w.str("queue", it->first);
  w.real("step_s", impl_->opt.sample.count() / 1000.0);
  std::string pts = "[";
  for (size_t i = 0; i < ring.size(); ++i) {
    if (i) pts += ',';
    views::JsonWriter pw(pts);
    point_fields(pw, ring.at(i));
    pw.close();
  }
  pts += ']';
  w.raw("points", pts);
  w.close();
  return out;
}

bool Dashboard::attach(asio::ip::tcp::socket& sock, std::string head,
                       std::function<void()> on_detach) {
  Impl& im = *impl_;
  if (!enabled() || im.stopped || im.watchers.size() >= im.opt.max_watchers) return false;
  auto w = std::make_shared<Watcher>(std::move(sock), std::move(on_detach), [&im](Watcher* gone) {
    // (Runs only while the Dashboard lives: stop() ends every watcher first.)
    std::erase_if(im.watchers, [gone](const auto& x) { return x.get() == gone; });
  });
  im.watchers.push_back(w);
  // Non-blocking: the close watch reads what a readable socket holds and must never wait.
  boost::system::error_code ec;
  w->sock.non_blocking(true, ec);
  w->watch_close();
  w->send(
      std::make_shared<const std::string>(head + "event: overview\ndata: " + im.frame + "\n\n"));
  return true;
}

size_t Dashboard::watchers() const { return impl_->watchers.size(); }

uint64_t Dashboard::samples() const { return impl_->samples; }

}  // namespace anteroom::dashboard
