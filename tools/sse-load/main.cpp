// sse-load: many Server-Sent-Events clients in one single-threaded process (Boost.Asio, epoll),
// for anteroom's benchmarks (bench/). Every stream costs a socket, ~250 bytes of state here and
// an entry in our own epoll set (Load::arm_read); reads go through one shared buffer. Times are
// CLOCK_REALTIME µs, so figures from several sse-load processes on one machine can be merged.
//
//   sse-load fanout --url URL --queue Q --streams N [--rounds R] [--server-pid PID[,PID]]
//       Joins N tickets, opens N streams, waits until each has its initial state (and reports the
//       server's RSS growth per stream), then for R admissions made by the queue's own rate
//       measures, from the moment the admitted visitor's `admitted` event arrives, until each
//       waiting stream receives its new `position`. The queue must admit about one ticket every
//       2 s (admit_per_s 0.5): far-back visitors get at most one update a second, so every round
//       starts after a quiet second and measures the immediate send, not the coalescing.
//   sse-load nchan --url URL --sub PATH --pub PATH --streams N [--rounds R] [--server-pid ...]
//       The baseline: N EventSource subscribers of one nchan channel; each round publishes one
//       message (POST) and measures, from just before the POST, until every subscriber has it.
//   sse-load admit --url URL [--url URL ...] --queue Q --streams N --admin-token T
//       [--interval-ms 20] [--warmup 10]
//       Admission → SSE across processes: streams spread round-robin over the URLs (several
//       anteroom processes sharing Redis/Kafka); admissions one at a time by raising max_active
//       with PUT /v1/queues/Q through the processes in turn; per ticket, latency = arrival of its
//       `admitted` event − the moment its PUT was sent (an upper bound: it includes the PUT and
//       the wait for the next admission tick). Also reads every process's
//       anteroom_admission_to_sse_ms histogram before and after, and reports the merged delta
//       (server-side: from the admission's store time to the frame queued on the stream).
//   sse-load hold --url URL --queue Q --streams N
//       Joins N tickets, opens N streams, waits until each has its initial state, prints
//       `READY streams=N` and then keeps them open (reading whatever comes) until it is killed:
//       the "line is watching" load for another load generator (bench: join_with_streams_ratio).
//   sse-load watch --url URL [--url URL ...] --queue Q --tickets FILE [--stride S --offset O]
//       --ticks FILE [--ticks-out FILE] [--near 100] [--settle-timeout-s 60]
//       The streams of bench/scale.sh: opens a stream for lines O, O+S, O+2S, ... of FILE (ticket
//       ids, e.g. from `fill --keep-out`; line i of ours on URL i mod K), each must start with a
//       `position`; prints `READY streams=N positions=LO..HI` and from then keeps every frame
//       (arrival µs, id, position or kind). On SIGUSR1 (admission over) it reads the ticks FILE
//       (lines "at_ms first_seq last_seq admitted-so-far", from the server's events) and:
//       (1) the final state: GET ticket of every stream against its latest frame, re-reading the
//       ones that disagree every 200 ms until all agree or the timeout; (2) per tick, for every
//       stream waiting before it (position = first frame's − admissions before the tick): the
//       first frame with id >= the tick's last seq, or `admitted`, minus the tick's at; near
//       (position after the tick <= --near, or admitted by it) and far apart: count, slowest,
//       sum, missing, and the waiting streams at 1..near, one line per tick in --ticks-out.
//       Prints `CHECKED streams=N wrong=W settle_ms=... frames=... ticks=...` and holds the
//       streams until killed.
//   sse-load draw --url URL [--url URL ...] --queue Q --streams N --admin-token T
//       [--settle-timeout-s 600] [--check-places 50]
//       The draw: Q is in its pre-queue. Joins N tickets (each must answer status `prequeue`),
//       opens stream i on URL i mod K, checks each stream's first event is `prequeue`, and waits
//       until every stream's latest `prequeue` frame shows the store's entrant count (GET
//       /v1/queues/Q draw.entrants: the processes have read every join). Then prints
//       `READY streams=N entrants=E` and waits (--timeout-s) for each stream's `drawn` frame
//       (or an `admitted`/`ended` that beat it: counted apart) while someone else sets
//       opens_at, and prints `PLACED streams=K` once they have (or at the timeout). Per stream:
//       arrival − opens_at (config.opens_at, read afterwards); the places must be distinct and
//       within 1..entrants, and a sample of GET ticket must show the same.
//   sse-load fill --redis HOST:PORT --sha SHA --keys "16 K1 .. K16" --commit C --now MS --n N
//       [--conns 4] [--pipeline 100] [--per-call 1] [--draw-key 1] [--keep-every K --keep-out F]
//       Fills a pre-queue: EVALSHA SHA (the server's join script) with the queue's keys and
//       ARGV commit, then --per-call joins (now, id, no dedupe key, draw key, no invite, no
//       proof) per call (a batch, as RedisStore batches the joins waiting for one queue),
//       --pipeline calls at a time on each of K connections (one thread each). Ids are 128
//       random bits in base64url (the server's shape, never colliding); draw keys are 32
//       uniformly random bytes (the server's are HMAC-SHA256 of the seed: same shape and
//       spread, not verifiable). Every reply must be `ok` (a refusal such as need_key stops
//       the fill). --draw-key 0: joins with no draw key (an open queue's joins, as the server
//       makes them); --keep-every K writes the ticket id of every K-th join to F, in join order
//       (as far as the side-by-side connections allow: within a pipeline or two).
//   sse-load slowlog --redis HOST:PORT [--sha SHA | --command NAME] [--match TEXT] [--since S]
//       Durations (µs, server-side) of the EVALSHA SHA calls (or NAME calls, or with neither
//       every call) in Redis' SLOWLOG whose arguments contain TEXT, logged at or after Unix
//       second S; also the longest one's command (`evalsha:<sha>` for a script) and time.
//       (Set slowlog-log-slower-than 0 first.)
//
// Common options: --lat-out FILE (sorted latencies in ms, one per line, for plots),
// --open-conns K (streams being opened at once, 256), --join-conns K (32), --timeout-s S (180).
// The last line of output is machine-readable: `RESULT mode=... key=value ...`.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sse_parser.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using namespace sseload;

namespace {

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "sse-load: %s\n", msg.c_str());
  std::exit(1);
}

void progress(const std::string& msg) {
  std::fprintf(stderr, "sse-load: %s\n", msg.c_str());
  std::fflush(stderr);
}

// ---- options ----

struct Options {
  std::string mode;
  std::multimap<std::string, std::string> kv;
  std::string get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  std::string need(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end()) die("missing --" + k);
    return it->second;
  }
  long num(const std::string& k, long def) const {
    auto v = get(k);
    return v.empty() ? def : std::stol(v);
  }
  std::vector<std::string> all(const std::string& k) const {
    std::vector<std::string> out;
    for (auto [b, e] = kv.equal_range(k); b != e; ++b) out.push_back(b->second);
    return out;
  }
};

Options parse_options(int argc, char** argv) {
  if (argc < 2)
    die("usage: sse-load fanout|nchan|admit|hold|watch|draw|fill|slowlog [--option value ...] (see "
        "main.cpp)");
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) die("bad argument " + a);
    o.kv.emplace(a.substr(2), argv[++i]);
  }
  return o;
}

struct Url {
  std::string host, port;
  tcp::endpoint ep;
};

Url parse_url(asio::io_context& io, std::string u) {
  if (u.rfind("http://", 0) == 0) u = u.substr(7);
  while (!u.empty() && u.back() == '/') u.pop_back();
  auto c = u.rfind(':');
  if (c == std::string::npos) die("URL needs a port: " + u);
  Url r{u.substr(0, c), u.substr(c + 1), {}};
  tcp::resolver res(io);
  r.ep = *res.resolve(r.host, r.port).begin();
  return r;
}

// ---- statistics ----

double pct(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return NAN;
  size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, k == 0 ? 0 : k - 1)];
}

std::string fmt(double v, int prec = 2) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string summary(const std::string& prefix, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return prefix + "n=" + std::to_string(v.size()) + " p50=" + fmt(pct(v, 0.5)) +
         " p90=" + fmt(pct(v, 0.9)) + " p99=" + fmt(pct(v, 0.99)) +
         " max=" + fmt(v.empty() ? NAN : v.back());
}

void write_latencies(const std::string& path, std::vector<double> v) {
  if (path.empty()) return;
  std::sort(v.begin(), v.end());
  std::ofstream f(path);
  for (double x : v) f << fmt(x, 3) << "\n";
}

long rss_kb(const std::string& pids) {
  if (pids.empty()) return -1;
  long total = 0;
  std::stringstream ss(pids);
  std::string pid;
  while (std::getline(ss, pid, ',')) {
    std::ifstream f("/proc/" + pid + "/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("VmRSS:", 0) == 0) total += std::stol(line.substr(6));
  }
  return total;
}

// ---- a small keep-alive HTTP client for control requests (joins, PUTs, publishes) ----

class HttpConn {
 public:
  HttpConn(asio::io_context& io, Url u) : url_(std::move(u)), stream_(io) {}
  awaitable<void> connect() {
    co_await stream_.async_connect(url_.ep, use_awaitable);
    stream_.socket().set_option(tcp::no_delay(true));
  }
  awaitable<bhttp::response<bhttp::string_body>> request(bhttp::verb v, std::string target,
                                                         std::string body,
                                                         std::string bearer = "") {
    bhttp::request<bhttp::string_body> req{v, target, 11};
    req.set(bhttp::field::host, url_.host);
    if (!bearer.empty()) req.set(bhttp::field::authorization, "Bearer " + bearer);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    co_await bhttp::async_write(stream_, req, use_awaitable);
    bhttp::response<bhttp::string_body> res;
    co_await bhttp::async_read(stream_, buf_, res, use_awaitable);
    co_return res;
  }
  const Url& url() const { return url_; }

 private:
  Url url_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

awaitable<void> sleep_ms(int64_t ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(use_awaitable);
}

// ---- the streams ----

struct Stream;
struct Load;

struct Sink {
  Stream* s;
  Load* load;
  bool on_headers(int status);
  void on_event(const SseEvent& e);
};

struct Stream {
  explicit Stream(asio::io_context& io) : sock(io) {}
  tcp::socket sock;
  SseParser<Sink> parser;
  uint32_t idx = 0;
  uint32_t target = 0;  // index of its URL
  bool headers = false, ready = false, closed = false;
  EventType last_type = EventType::message;
  uint64_t last_id = 0;
  int64_t last_pos = -1;
  // measurement
  bool armed = false;
  EventType want = EventType::position;
  int64_t got_t = 0;
  uint64_t got_id = 0;
  // draw mode: the first event's type, the entrants count of the latest `prequeue` frame, and
  // the first of `drawn` / `admitted` / `ended` after it (its arrival, and the place if drawn)
  EventType first_type = EventType::message;
  EventType draw_type = EventType::message;
  int64_t entrants = -1;
  int64_t place = -1;
  int64_t draw_t = 0;
  // watch mode: the first frame's position, then every frame after READY (arrival, id, kind)
  int64_t p0 = -1;
  struct Frame {
    int64_t t;
    uint64_t id;
    int64_t pos;
    EventType type;
  };
  std::vector<Frame> frames;
};

struct Load {
  asio::io_context& io;
  std::deque<Stream> streams;
  std::vector<char> rbuf = std::vector<char>(64 * 1024);
  size_t ready = 0, failed = 0, closed_after_ready = 0, headers = 0, got = 0;
  bool ready_on_headers = false;  // nchan: no initial event
  asio::steady_timer gate;         // wakes openers when a stream is ready or failed
  // admissions seen after arming (fanout: the round's start)
  int64_t admitted_t = 0;
  uint64_t admitted_id = 0;
  bool watch_admissions = false;
  // per ticket index: arrival of its `admitted` event (admit mode)
  std::vector<int64_t> admitted_at;
  // draw mode: streams that got their `drawn` frame (or were admitted or ended before it)
  bool watch_draw = false;
  size_t draw_done = 0;
  // watch mode: each stream keeps its frames (Stream::frames) while this is set
  bool record = false;

  explicit Load(asio::io_context& i) : io(i), gate(i) { gate.expires_at(asio::steady_timer::time_point::max()); }

  void mark_ready(Stream& s) {
    if (s.ready) return;
    s.ready = true;
    ++ready;
    gate.cancel();
  }
  void fail(Stream& s, const std::string& why) {
    if (s.closed) return;
    s.closed = true;
    boost::system::error_code ec;
    s.sock.close(ec);
    if (!s.ready) {
      ++failed;
      if (failed <= 5) progress("stream " + std::to_string(s.idx) + " failed: " + why);
      gate.cancel();
    } else {
      ++closed_after_ready;
      if (closed_after_ready <= 5) progress("stream " + std::to_string(s.idx) + " closed: " + why);
    }
  }

  // Reading: every stream's socket sits in one edge-triggered epoll set of our own, and the
  // io_context waits on that set's descriptor: one wake-up serves a whole batch of streams, with
  // one recv each and no per-event re-arming (an Asio wait per socket costs an epoll_ctl per
  // event, which made this client, not the server, the slower side of a 15k fan-out).
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  asio::posix::stream_descriptor epd{io, ep};
  bool polling = false;

  void arm_read(Stream& s) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &s;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, s.sock.native_handle(), &ev) != 0)
      return fail(s, std::string("epoll_ctl: ") + std::strerror(errno));
    if (!polling) poll();
  }
  void poll() {
    polling = true;
    epd.async_wait(asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
      if (ec) return;
      epoll_event evs[512];
      for (;;) {
        int n = ::epoll_wait(ep, evs, 512, 0);
        for (int i = 0; i < n; ++i) read_ready(*static_cast<Stream*>(evs[i].data.ptr));
        if (n < 512) break;
      }
      poll();
    });
  }
  // Reads what arrived. A short read emptied the socket: the next arrival is a new edge.
  void read_ready(Stream& s) {
    if (s.closed) return;
    for (;;) {
      ssize_t n = ::recv(s.sock.native_handle(), rbuf.data(), rbuf.size(), 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        return fail(s, std::strerror(errno));
      }
      if (n == 0) return fail(s, "closed by the server");
      Sink sink{&s, this};
      if (!s.parser.feed(sink, rbuf.data(), static_cast<size_t>(n))) return fail(s, "response ended or unusable");
      if (s.closed || static_cast<size_t>(n) < rbuf.size()) return;
    }
  }

  // Opens streams[from, to) with at most `conns` not yet ready at once.
  awaitable<void> opener(size_t& next, size_t to, size_t max_pending,
                         const std::vector<Url>& urls, std::function<std::string(size_t)> path) {
    while (next < to) {
      while (next - ready - failed >= max_pending) {
        boost::system::error_code ec;
        co_await gate.async_wait(asio::redirect_error(use_awaitable, ec));
        if (gate.expiry() != asio::steady_timer::time_point::max())
          gate.expires_at(asio::steady_timer::time_point::max());
      }
      if (next >= to) break;
      size_t i = next++;
      Stream& s = streams[i];
      const Url& u = urls[s.target];
      boost::system::error_code ec;
      for (int attempt = 0; attempt < 5; ++attempt) {
        co_await s.sock.async_connect(u.ep, asio::redirect_error(use_awaitable, ec));
        if (!ec) break;
        s.sock.close();
        co_await sleep_ms(50 << attempt);
      }
      if (ec) {
        fail(s, "connect: " + ec.message());
        continue;
      }
      s.sock.set_option(tcp::no_delay(true));
      std::string req = "GET " + path(i) + " HTTP/1.1\r\nHost: " + u.host +
                        "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
      co_await asio::async_write(s.sock, asio::buffer(req), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        fail(s, "write: " + ec.message());
        continue;
      }
      s.sock.non_blocking(true);
      arm_read(s);
    }
  }

  awaitable<void> open_all(const std::vector<Url>& urls, size_t max_pending,
                           std::function<std::string(size_t)> path, int64_t timeout_s) {
    size_t next = 0;
    const size_t n = streams.size();
    const int workers = static_cast<int>(std::min<size_t>(max_pending, 256));
    auto ex = co_await asio::this_coro::executor;
    int64_t t0 = now_us(), last_report = t0;
    for (int w = 0; w < workers; ++w)
      asio::co_spawn(ex, opener(next, n, max_pending, urls, path), asio::detached);
    while (ready + failed < n) {
      co_await sleep_ms(20);
      int64_t t = now_us();
      if (t - last_report > 2'000'000) {
        last_report = t;
        progress("streams ready " + std::to_string(ready) + "/" + std::to_string(n) +
                 (failed ? " (failed " + std::to_string(failed) + ")" : ""));
      }
      if (t - t0 > timeout_s * 1'000'000) die("timed out opening streams");
    }
    if (failed) die(std::to_string(failed) + " streams failed to open");
    progress("all " + std::to_string(n) + " streams ready in " + fmt((now_us() - t0) / 1e6) + " s");
  }
};

bool Sink::on_headers(int status) {
  if (status != 200) {
    load->fail(*s, "HTTP status " + std::to_string(status));
    return false;
  }
  s->headers = true;
  ++load->headers;
  if (load->ready_on_headers) load->mark_ready(*s);
  return true;
}

void Sink::on_event(const SseEvent& e) {
  int64_t t = now_us();
  Stream& st = *s;
  if (load->watch_draw) {
    if (!st.ready) st.first_type = e.type;
    if (e.type == EventType::prequeue && e.entrants >= 0) st.entrants = e.entrants;
    if (st.draw_t == 0 && st.ready &&
        (e.type == EventType::drawn || e.type == EventType::admitted ||
         e.type == EventType::ended)) {
      st.draw_t = t;
      st.draw_type = e.type;
      st.place = e.place;
      ++load->draw_done;
    }
  }
  if (load->record && st.ready) st.frames.push_back({t, e.id, e.position, e.type});
  if (!st.ready) {
    st.first_type = e.type;
    st.p0 = e.position;
    load->mark_ready(st);
  } else if (st.armed && st.got_t == 0 && e.type == st.want) {
    st.got_t = t;
    st.got_id = e.id;
    ++load->got;
  }
  if (e.type == EventType::admitted && st.ready) {
    if (load->watch_admissions && load->admitted_t == 0 && st.last_type != EventType::admitted) {
      load->admitted_t = t;
      load->admitted_id = e.id;
    }
    if (st.idx < load->admitted_at.size() && load->admitted_at[st.idx] == 0)
      load->admitted_at[st.idx] = t;
  }
  st.last_type = e.type;
  st.last_id = e.id;
  if (e.position >= 0) st.last_pos = e.position;
}

// ---- joins ----

// Runs `worker(url)` on `conns` connections spread over `urls` and waits until every one has
// finished (polling every `poll_ms`); a worker's exception ends the program ("<what> failed").
template <class Worker>
awaitable<void> run_workers(asio::io_context& io, const std::vector<Url>& urls, int conns,
                            Worker& worker, const std::string& what, int64_t poll_ms) {
  size_t finished = 0;
  for (int w = 0; w < conns; ++w)
    asio::co_spawn(io, worker(urls[w % urls.size()]), [&](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          die(what + " failed: " + x.what());
        }
      }
      ++finished;
    });
  while (finished < static_cast<size_t>(conns)) co_await sleep_ms(poll_ms);
}

struct Joined {
  std::string ticket;
  int64_t position = 0;
  std::string status;
};

awaitable<std::vector<Joined>> join_all(asio::io_context& io, const std::vector<Url>& urls,
                                        std::string q, size_t n, int conns) {
  std::vector<Joined> out(n);
  size_t next = 0, done = 0;
  int64_t t0 = now_us();
  auto worker = [&](Url u) -> awaitable<void> {
    HttpConn c(io, u);
    co_await c.connect();
    while (next < n) {
      size_t i = next++;
      auto res = co_await c.request(bhttp::verb::post, "/v1/queues/" + q + "/tickets", "");
      if (res.result_int() != 201)
        die("join answered " + std::to_string(res.result_int()) + ": " + res.body());
      auto v = json::parse(res.body()).as_object();
      out[i].ticket = std::string(v.at("ticket").as_string());
      out[i].status = std::string(v.at("status").as_string());
      out[i].position = v.contains("position") ? v.at("position").to_number<int64_t>() : 0;
      ++done;
    }
  };
  co_await run_workers(io, urls, conns, worker, "join", 10);
  double s = (now_us() - t0) / 1e6;
  progress("joined " + std::to_string(n) + " tickets in " + fmt(s) + " s (" + fmt(n / s, 0) +
           "/s)");
  co_return out;
}

// ---- modes ----

std::string events_path(const std::string& q, const std::string& t) {
  return "/v1/queues/" + q + "/tickets/" + t + "/events";
}

struct Ctx {
  asio::io_context& io;
  const Options& o;
  int64_t timeout_s;
};

void report_memory(const std::string& pids, long before_kb, long after_kb, size_t n,
                   std::string& result) {
  if (pids.empty()) return;
  double per = (after_kb - before_kb) * 1024.0 / static_cast<double>(n);
  std::printf("memory: server RSS %ld KiB -> %ld KiB for %zu streams: %.0f bytes per stream\n",
              before_kb, after_kb, n, per);
  result += " rss_before_kb=" + std::to_string(before_kb) + " rss_after_kb=" +
            std::to_string(after_kb) + " bytes_per_stream=" + fmt(per, 0);
}

// Per-round latencies of armed streams (ms, from t0); counts those that never got the event.
std::vector<double> collect(Load& L, int64_t t0, uint64_t min_id, size_t& missing, size_t& stale) {
  std::vector<double> lat;
  for (auto& s : L.streams) {
    if (!s.armed) continue;
    if (s.got_t == 0) {
      ++missing;
      continue;
    }
    if (s.got_id < min_id) ++stale;
    lat.push_back(std::max<int64_t>(0, s.got_t - t0) / 1000.0);
  }
  return lat;
}

awaitable<void> run_fanout(Ctx c, std::string& result) {
  const auto& o = c.o;
  auto url = parse_url(c.io, o.need("url"));
  std::string q = o.need("queue");
  size_t n = static_cast<size_t>(o.num("streams", 1000));
  int rounds = static_cast<int>(o.num("rounds", 3));
  std::string pids = o.get("server-pid");
  std::vector<Url> urls{url};

  auto tickets = co_await join_all(c.io, urls, q, n, static_cast<int>(o.num("join-conns", 32)));
  Load L(c.io);
  for (size_t i = 0; i < n; ++i) {
    L.streams.emplace_back(c.io);
    L.streams.back().idx = static_cast<uint32_t>(i);
  }
  co_await sleep_ms(300);  // let the join burst settle before the RSS baseline
  long before = rss_kb(pids);
  co_await L.open_all(urls, static_cast<size_t>(o.num("open-conns", 256)),
                      [&](size_t i) { return events_path(q, tickets[i].ticket); }, c.timeout_s);
  co_await sleep_ms(1000);
  long after = rss_kb(pids);
  result = "RESULT mode=fanout streams=" + std::to_string(n);
  report_memory(pids, before, after, n, result);

  // Round 0 is a warm-up, run like the others but not reported: afterwards every stream's last
  // update is that round's, at least a second old when the next admission comes (far-back
  // updates are coalesced to one a second), so each measured round sees the immediate send.
  L.watch_admissions = true;
  std::vector<double> all, round_max;
  size_t missing_total = 0, stale_total = 0;
  for (int r = 0; r <= rounds; ++r) {
    size_t armed = 0;
    for (auto& s : L.streams)
      if (!s.closed && s.last_type == EventType::position) {
        s.armed = true;
        s.want = EventType::position;
        s.got_t = 0;
        ++armed;
      } else {
        s.armed = false;
      }
    L.got = 0;
    L.admitted_t = 0;
    int64_t start = now_us();
    if (r == 0) progress("waiting for a first (unmeasured) admission");
    while (L.admitted_t == 0) {
      co_await sleep_ms(2);
      if (now_us() - start > 30'000'000) die("no admission within 30 s: does the queue admit ~0.5/s?");
    }
    int64_t t0 = L.admitted_t;
    uint64_t a = L.admitted_id;
    // The admitted visitor itself is armed for a position it will never get: disarm it.
    for (auto& s : L.streams)
      if (s.armed && s.last_type == EventType::admitted && s.got_t == 0) {
        s.armed = false;
        --armed;
      }
    while (L.got < armed && now_us() - t0 < 10'000'000) co_await sleep_ms(2);
    size_t missing = 0, stale = 0;
    auto lat = collect(L, t0, a, missing, stale);
    for (auto& s : L.streams) s.armed = false;
    co_await sleep_ms(200);
    if (r == 0) {
      progress("warm-up round: " + summary("", lat) + " ms");
      continue;
    }
    std::sort(lat.begin(), lat.end());
    double mx = lat.empty() ? NAN : lat.back();
    round_max.push_back(mx);
    missing_total += missing;
    stale_total += stale;
    std::printf("round %d (admission id %llu): %s ms%s%s\n", r,
                static_cast<unsigned long long>(a), summary("", lat).c_str(),
                missing ? (" missing=" + std::to_string(missing)).c_str() : "",
                stale ? (" stale=" + std::to_string(stale)).c_str() : "");
    std::fflush(stdout);
    all.insert(all.end(), lat.begin(), lat.end());
  }
  write_latencies(o.get("lat-out"), all);
  std::sort(round_max.begin(), round_max.end());
  std::sort(all.begin(), all.end());
  std::printf("%s ms (all rounds)\n", summary("fanout: ", all).c_str());
  result += " rounds=" + std::to_string(rounds) + " p50_ms=" + fmt(pct(all, 0.5)) +
            " p90_ms=" + fmt(pct(all, 0.9)) + " p99_ms=" + fmt(pct(all, 0.99)) +
            " all_ms_median=" + fmt(pct(round_max, 0.5)) + " all_ms_worst=" +
            fmt(round_max.empty() ? NAN : round_max.back()) + " missing=" +
            std::to_string(missing_total) + " stale=" + std::to_string(stale_total);
}

awaitable<void> run_hold(Ctx c, std::string& result) {
  const auto& o = c.o;
  auto url = parse_url(c.io, o.need("url"));
  std::string q = o.need("queue");
  size_t n = static_cast<size_t>(o.num("streams", 1000));
  std::vector<Url> urls{url};
  auto tickets = co_await join_all(c.io, urls, q, n, static_cast<int>(o.num("join-conns", 32)));
  Load L(c.io);
  for (size_t i = 0; i < n; ++i) {
    L.streams.emplace_back(c.io);
    L.streams.back().idx = static_cast<uint32_t>(i);
  }
  co_await L.open_all(urls, static_cast<size_t>(o.num("open-conns", 256)),
                      [&](size_t i) { return events_path(q, tickets[i].ticket); }, c.timeout_s);
  std::printf("READY streams=%zu\n", n);
  std::fflush(stdout);
  // Held until killed; a stream the server closes is reported (it should not happen).
  asio::steady_timer forever(c.io, asio::steady_timer::time_point::max());
  boost::system::error_code ec;
  co_await forever.async_wait(asio::redirect_error(use_awaitable, ec));
  result = "RESULT mode=hold streams=" + std::to_string(n);
}

awaitable<void> run_nchan(Ctx c, std::string& result) {
  const auto& o = c.o;
  auto url = parse_url(c.io, o.need("url"));
  std::string sub = o.need("sub"), pub = o.need("pub");
  size_t n = static_cast<size_t>(o.num("streams", 1000));
  int rounds = static_cast<int>(o.num("rounds", 3));
  std::string pids = o.get("server-pid");
  std::string payload = o.get("payload", R"({"position":12345,"eta_s":2469,"paused":false})");
  std::vector<Url> urls{url};

  Load L(c.io);
  L.ready_on_headers = true;
  for (size_t i = 0; i < n; ++i) {
    L.streams.emplace_back(c.io);
    L.streams.back().idx = static_cast<uint32_t>(i);
  }
  long before = rss_kb(pids);
  co_await L.open_all(urls, static_cast<size_t>(o.num("open-conns", 256)),
                      [&](size_t) { return sub; }, c.timeout_s);
  co_await sleep_ms(1000);
  long after = rss_kb(pids);
  result = "RESULT mode=nchan streams=" + std::to_string(n);
  report_memory(pids, before, after, n, result);

  HttpConn pubc(c.io, url);
  co_await pubc.connect();
  std::vector<double> all, round_max;
  size_t missing_total = 0;
  for (int r = 0; r < rounds; ++r) {
    co_await sleep_ms(1000);
    size_t armed = 0;
    for (auto& s : L.streams) {
      s.armed = !s.closed;
      s.want = EventType::message;
      s.got_t = 0;
      armed += s.armed;
    }
    L.got = 0;
    int64_t t0 = now_us();
    auto res = co_await pubc.request(bhttp::verb::post, pub, payload);
    if (res.result_int() >= 300) die("nchan publish answered " + std::to_string(res.result_int()));
    while (L.got < armed && now_us() - t0 < 10'000'000) co_await sleep_ms(2);
    size_t missing = 0, stale = 0;
    auto lat = collect(L, t0, 0, missing, stale);
    std::sort(lat.begin(), lat.end());
    round_max.push_back(lat.empty() ? NAN : lat.back());
    missing_total += missing;
    std::printf("round %d: %s ms%s\n", r + 1, summary("", lat).c_str(),
                missing ? (" missing=" + std::to_string(missing)).c_str() : "");
    std::fflush(stdout);
    all.insert(all.end(), lat.begin(), lat.end());
    for (auto& s : L.streams) s.armed = false;
  }
  write_latencies(o.get("lat-out"), all);
  std::sort(round_max.begin(), round_max.end());
  std::sort(all.begin(), all.end());
  std::printf("%s ms (all rounds)\n", summary("nchan fanout: ", all).c_str());
  result += " rounds=" + std::to_string(rounds) + " p50_ms=" + fmt(pct(all, 0.5)) +
            " p90_ms=" + fmt(pct(all, 0.9)) + " p99_ms=" + fmt(pct(all, 0.99)) +
            " all_ms_median=" + fmt(pct(round_max, 0.5)) + " all_ms_worst=" +
            fmt(round_max.empty() ? NAN : round_max.back()) + " missing=" +
            std::to_string(missing_total);
}

// Cumulative buckets of one Prometheus histogram, summed over processes: le → count.
awaitable<std::map<double, double>> histogram(asio::io_context& io, const std::vector<Url>& urls,
                                              const std::string& name) {
  std::map<double, double> h;
  for (auto& u : urls) {
    HttpConn c(io, u);
    co_await c.connect();
    auto res = co_await c.request(bhttp::verb::get, "/metrics", "");
    std::istringstream in(res.body());
    std::string line, prefix = name + "_bucket{le=\"";
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) != 0) continue;
      auto q = line.find('"', prefix.size());
      std::string le = line.substr(prefix.size(), q - prefix.size());
      double bound = le == "+Inf" ? INFINITY : std::stod(le);
      h[bound] += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  co_return h;
}

// Quantile of a cumulative histogram, linear within a bucket (Prometheus histogram_quantile).
double hist_quantile(const std::map<double, double>& h, double q) {
  if (h.empty()) return NAN;
  double total = h.rbegin()->second;
  if (total <= 0) return NAN;
  double rank = q * total, prev_le = 0, prev_c = 0;
  for (auto& [le, c] : h) {
    if (c >= rank) {
      if (std::isinf(le)) return prev_le;
      return prev_le + (le - prev_le) * (c > prev_c ? (rank - prev_c) / (c - prev_c) : 0);
    }
    prev_le = le;
    prev_c = c;
  }
  return prev_le;
}

awaitable<void> run_admit(Ctx c, std::string& result) {
  const auto& o = c.o;
  std::vector<Url> urls;
  for (auto& u : o.all("url")) urls.push_back(parse_url(c.io, u));
  if (urls.empty()) die("missing --url");
  std::string q = o.need("queue"), admin = o.need("admin-token");
  size_t n = static_cast<size_t>(o.num("streams", 300));
  size_t warm = static_cast<size_t>(o.num("warmup", 10));
  int64_t interval = o.num("interval-ms", 20);
  size_t total = n + warm;

  auto joined = co_await join_all(c.io, urls, q, total, static_cast<int>(o.num("join-conns", 8)));
  // FIFO: order the tickets by the position each got at join (nobody is admitted yet).
  std::sort(joined.begin(), joined.end(),
            [](const Joined& a, const Joined& b) { return a.position < b.position; });
  for (size_t i = 0; i < total; ++i)
    if (joined[i].status != "waiting" || joined[i].position != static_cast<int64_t>(i + 1))
      die("tickets must all be waiting at positions 1..N (set max_active 0 before): ticket " +
          std::to_string(i) + " is " + joined[i].status + " at " + std::to_string(joined[i].position));
  Load L(c.io);
  L.admitted_at.assign(total, 0);
  for (size_t i = 0; i < total; ++i) {
    L.streams.emplace_back(c.io);
    L.streams.back().idx = static_cast<uint32_t>(i);
    L.streams.back().target = static_cast<uint32_t>(i % urls.size());
  }
  co_await L.open_all(urls, static_cast<size_t>(o.num("open-conns", 256)),
                      [&](size_t i) { return events_path(q, joined[i].ticket); }, c.timeout_s);

  std::vector<std::unique_ptr<HttpConn>> ctl;
  for (auto& u : urls) {
    ctl.push_back(std::make_unique<HttpConn>(c.io, u));
    co_await ctl.back()->connect();
  }
  std::vector<int64_t> put_at(total, 0);
  auto put = [&](size_t k) -> awaitable<void> {
    put_at[k] = now_us();
    auto res = co_await ctl[k % ctl.size()]->request(
        bhttp::verb::put, "/v1/queues/" + q, "{\"max_active\":" + std::to_string(k + 1) + "}", admin);
    if (res.result_int() != 200) die("PUT answered " + std::to_string(res.result_int()) + ": " + res.body());
  };

  // Warm-up: until the pipeline (Kafka consumer group) is settled, one admission at a time.
  progress("warm-up: " + std::to_string(warm) + " admissions, one at a time");
  for (size_t k = 0; k < warm; ++k) {
    co_await put(k);
    int64_t t = now_us();
    while (L.admitted_at[k] == 0) {
      co_await sleep_ms(2);
      if (now_us() - t > 60'000'000) die("warm-up admission " + std::to_string(k) + " never arrived");
    }
    progress("warm-up admission " + std::to_string(k + 1) + ": " +
             fmt((L.admitted_at[k] - put_at[k]) / 1000.0) + " ms");
  }
  co_await sleep_ms(300);
  auto h0 = co_await histogram(c.io, urls, o.get("histogram", "anteroom_admission_to_sse_ms"));

  progress("measuring " + std::to_string(n) + " admissions, one every " + std::to_string(interval) + " ms");
  int64_t start = now_us();
  for (size_t k = warm; k < total; ++k) {
    int64_t due = start + static_cast<int64_t>(k - warm) * interval * 1000;
    int64_t wait = due - now_us();
    if (wait > 0) co_await sleep_ms((wait + 999) / 1000);
    co_await put(k);
  }
  int64_t t = now_us();
  auto arrived = [&] {
    size_t a = 0;
    for (size_t k = warm; k < total; ++k) a += L.admitted_at[k] != 0;
    return a;
  };
  while (arrived() < n && now_us() - t < 15'000'000) co_await sleep_ms(10);
  co_await sleep_ms(200);
  auto h1 = co_await histogram(c.io, urls, o.get("histogram", "anteroom_admission_to_sse_ms"));

  std::vector<double> lat;
  for (size_t k = warm; k < total; ++k)
    if (L.admitted_at[k]) lat.push_back((L.admitted_at[k] - put_at[k]) / 1000.0);
  size_t missing = n - lat.size();
  write_latencies(o.get("lat-out"), lat);
  std::sort(lat.begin(), lat.end());
  std::printf("%s ms%s\n", summary("PUT -> admitted event (client): ", lat).c_str(),
              missing ? (" missing=" + std::to_string(missing)).c_str() : "");
  std::map<double, double> d;
  for (auto& [le, cnt] : h1) d[le] = cnt - (h0.count(le) ? h0.at(le) : 0);
  double total_obs = d.empty() ? 0 : d.rbegin()->second;
  double le25 = d.count(25) ? d.at(25) : NAN;
  std::printf("admission -> SSE frame (server histograms, %zu processes): n=%.0f p50~%.2f p99~%.2f "
              "ms; %.2f%% within 25 ms\n",
              urls.size(), total_obs, hist_quantile(d, 0.5), hist_quantile(d, 0.99),
              total_obs > 0 ? 100.0 * le25 / total_obs : NAN);
  std::string buckets;
  for (auto& [le, cnt] : d) buckets += (buckets.empty() ? "" : ",") + (std::isinf(le) ? std::string("inf") : fmt(le, 0)) + ":" + fmt(cnt, 0);
  result = "RESULT mode=admit streams=" + std::to_string(n) + " processes=" + std::to_string(urls.size()) +
           " p50_ms=" + fmt(pct(lat, 0.5)) + " p90_ms=" + fmt(pct(lat, 0.9)) + " p99_ms=" +
           fmt(pct(lat, 0.99)) + " max_ms=" + fmt(lat.empty() ? NAN : lat.back()) +
           " missing=" + std::to_string(missing) + " server_n=" + fmt(total_obs, 0) +
           " server_p50_ms=" + fmt(hist_quantile(d, 0.5)) + " server_p99_ms=" +
           fmt(hist_quantile(d, 0.99)) + " server_within_25ms_pct=" +
           fmt(total_obs > 0 ? 100.0 * le25 / total_obs : NAN) + " server_buckets=" + buckets;
}

// ---- watch: the streams of a scale run (bench/scale.sh) ----

// One admission tick as the server's events show it: its events share `at` (the store's clock,
// ms) and have consecutive seqs; `admitted` counts the admissions up to and including it.
struct Tick {
  int64_t at_ms = 0;
  uint64_t last_seq = 0;
  int64_t admitted = 0;
};

std::vector<Tick> read_ticks(const std::string& path) {
  std::ifstream f(path);
  if (!f) die("cannot read " + path);
  std::vector<Tick> out;
  Tick t;
  uint64_t first = 0;
  while (f >> t.at_ms >> first >> t.last_seq >> t.admitted) out.push_back(t);
  return out;
}

// A stream's state as its latest frame shows it: its position, kAdmitted, or kOther; kUnknown:
// the store could not be asked (an error answer, e.g. 503 while the process lost Redis).
constexpr int64_t kAdmitted = -1, kOther = -2, kUnknown = -3;
int64_t shown_state(const Stream& s) {
  if (s.last_type == EventType::admitted) return kAdmitted;
  if (s.last_type == EventType::position) return s.last_pos;
  return kOther;
}

// GET ticket of each index in `which` (over every URL, `conns` at once) → truth[i]: its
// position while waiting, kAdmitted when active, kOther otherwise, kUnknown when the answer was
// an error (asked again in the next round). Returns the number of error answers.
awaitable<size_t> read_truth(asio::io_context& io, const std::vector<Url>& urls,
                             const std::string& q, const std::vector<std::string>& tickets,
                             const std::vector<size_t>& which, std::vector<int64_t>& truth,
                             int conns, int64_t deadline_us) {
  size_t next = 0, errors = 0;
  auto worker = [&](Url u) -> awaitable<void> {
    auto c = std::make_unique<HttpConn>(io, u);
    co_await c->connect();
    while (next < which.size()) {
      size_t i = which[next++];
      if (now_us() > deadline_us) {  // past the deadline: not asked
        truth[i] = kUnknown;
        continue;
      }
      bhttp::response<bhttp::string_body> res;
      bool sent = false;
      try {
        res = co_await c->request(bhttp::verb::get, "/v1/queues/" + q + "/tickets/" + tickets[i], "");
        sent = true;
      } catch (const std::exception&) {
        // (the connection broke: a new one for the next ticket)
      }
      if (!sent) {
        c = std::make_unique<HttpConn>(io, u);
        co_await c->connect();
      }
      if (!sent || res.result_int() != 200) {
        truth[i] = kUnknown;
        if (++errors <= 3)
          progress("GET ticket answered " + (sent ? std::to_string(res.result_int()) + ": " + res.body() : "nothing"));
        continue;
      }
      auto v = json::parse(res.body()).as_object();
      std::string st(v.at("status").as_string());
      truth[i] = st == "waiting" && v.contains("position") ? v.at("position").to_number<int64_t>()
                 : st == "active"                          ? kAdmitted
                                                           : kOther;
    }
  };
  co_await run_workers(io, urls, conns, worker, "GET ticket", 5);
  co_return errors;
}

awaitable<void> run_watch(Ctx c, std::string& result) {
  const auto& o = c.o;
  std::vector<Url> urls;
  for (auto& u : o.all("url")) urls.push_back(parse_url(c.io, u));
  if (urls.empty()) die("missing --url");
  std::string q = o.need("queue");
  const size_t stride = static_cast<size_t>(std::max(1L, o.num("stride", 1)));
  const size_t offset = static_cast<size_t>(o.num("offset", 0));
  const int64_t near = o.num("near", 100);
  const int64_t settle_s = o.num("settle-timeout-s", 60);
  // Our tickets: lines offset, offset + stride, ... of the file; line j's stream goes to URL
  // (j / stride) mod K, so that every process gets streams from every part of the line.
  std::vector<std::string> tickets;
  {
    std::ifstream f(o.need("tickets"));
    if (!f) die("cannot read " + o.need("tickets"));
    size_t j = 0;
    for (std::string line; std::getline(f, line); ++j)
      if (j % stride == offset && !line.empty()) tickets.push_back(line);
  }
  const size_t n = tickets.size();
  if (n == 0) die("no tickets for this watcher");
  Load L(c.io);
  for (size_t i = 0; i < n; ++i) {
    L.streams.emplace_back(c.io);
    L.streams.back().idx = static_cast<uint32_t>(i);
    L.streams.back().target = static_cast<uint32_t>(i % urls.size());
  }
  co_await L.open_all(urls, static_cast<size_t>(o.num("open-conns", 256)),
                      [&](size_t i) { return events_path(q, tickets[i]); }, c.timeout_s);
  size_t not_waiting = 0;
  for (auto& s : L.streams) not_waiting += s.first_type != EventType::position;
  if (not_waiting) die(std::to_string(not_waiting) + " streams did not start with a position");
  // Installed before READY: the caller's SIGUSR1 must never meet the default action (exit).
  asio::signal_set sig(c.io, SIGUSR1);
  L.record = true;
  int64_t p_lo = INT64_MAX, p_hi = 0;
  for (auto& s : L.streams) p_lo = std::min(p_lo, s.p0), p_hi = std::max(p_hi, s.p0);
  std::printf("READY streams=%zu positions=%lld..%lld\n", n, static_cast<long long>(p_lo),
              static_cast<long long>(p_hi));
  std::fflush(stdout);

  // SIGUSR1: admission has stopped and the caller wrote the ticks file.
  co_await sig.async_wait(use_awaitable);
  int64_t t_sig = now_us();
  auto ticks = read_ticks(o.need("ticks"));

  // The final state: every stream's latest frame against GET ticket, until all agree or the
  // deadline (far-back streams get their last position up to far_interval late). Only the
  // streams that disagree are read again: the store's truth may still have moved.
  std::vector<int64_t> truth(n, kOther);
  std::vector<size_t> wrong(n);
  std::iota(wrong.begin(), wrong.end(), 0);
  const int conns = static_cast<int>(o.num("check-conns", 8));
  size_t errors = 0;
  for (bool more = true; more;) {
    errors += co_await read_truth(c.io, urls, q, tickets, wrong, truth, conns,
                                  t_sig + settle_s * 1'000'000);
    std::vector<size_t> still;
    for (size_t i : wrong)
      if (shown_state(L.streams[i]) != truth[i]) still.push_back(i);
    wrong.swap(still);
    more = !wrong.empty() && now_us() - t_sig < settle_s * 1'000'000;
    if (more) co_await sleep_ms(200);
  }
  L.record = false;
  int64_t settle_ms = (now_us() - t_sig) / 1000;
  // Those the store never answered for are not known to be wrong: counted apart.
  size_t unverified = 0;
  for (size_t i : wrong) unverified += truth[i] == kUnknown;
  for (size_t k = 0; k < std::min<size_t>(wrong.size(), 3); ++k) {
    auto& s = L.streams[wrong[k]];
    progress("stream " + std::to_string(wrong[k]) + " shows " + std::to_string(shown_state(s)) +
             (s.closed ? " (closed)" : "") + ", the store " + std::to_string(truth[wrong[k]]));
  }

  // Per tick: for each stream it moved (waiting before it), the first frame that reflects it
  // (id >= the tick's last seq, or `admitted`) − the tick's time. Near: its position after the
  // tick is <= near (or it was admitted by it); far: the rest.
  struct PerTick {
    size_t n[2] = {0, 0}, missing[2] = {0, 0};
    size_t near_waiting = 0;  // streams waiting at positions 1..near after the tick
    int64_t max_us[2] = {INT64_MIN, INT64_MIN};
    double sum_us[2] = {0, 0};
  };
  std::vector<PerTick> per(ticks.size());
  for (auto& s : L.streams) {
    size_t fi = 0;
    for (size_t k = 0; k < ticks.size(); ++k) {
      int64_t before = s.p0 - (k ? ticks[k - 1].admitted : 0);
      if (before <= 0) break;
      int64_t after = s.p0 - ticks[k].admitted;
      int w = after <= near ? 0 : 1;
      per[k].near_waiting += after >= 1 && after <= near;
      while (fi < s.frames.size() && s.frames[fi].type != EventType::admitted &&
             s.frames[fi].id < ticks[k].last_seq)
        ++fi;
      if (fi == s.frames.size()) {
        ++per[k].missing[w];
        continue;
      }
      int64_t d = s.frames[fi].t - ticks[k].at_ms * 1000;
      ++per[k].n[w];
      per[k].max_us[w] = std::max(per[k].max_us[w], d);
      per[k].sum_us[w] += static_cast<double>(d);
    }
  }
  size_t frames = 0;
  for (auto& s : L.streams) {
    frames += s.frames.size();
    std::vector<Stream::Frame>().swap(s.frames);
  }
  if (auto path = o.get("ticks-out"); !path.empty()) {
    std::ofstream f(path);
    // tick at_ms near_n near_max_us near_missing far_n far_max_us far_missing near_sum_us
    // far_sum_us near_waiting
    for (size_t k = 0; k < ticks.size(); ++k) {
      auto& p = per[k];
      f << k << ' ' << ticks[k].at_ms << ' ' << p.n[0] << ' ' << (p.n[0] ? p.max_us[0] : 0) << ' '
        << p.missing[0] << ' ' << p.n[1] << ' ' << (p.n[1] ? p.max_us[1] : 0) << ' '
        << p.missing[1] << ' ' << fmt(p.sum_us[0], 0) << ' ' << fmt(p.sum_us[1], 0) << ' '
        << p.near_waiting << '\n';
    }
    if (!f) die("cannot write " + path);
  }
  std::printf(
      "CHECKED streams=%zu wrong=%zu unverified=%zu get_errors=%zu settle_ms=%lld frames=%zu "
      "ticks=%zu closed=%zu\n",
      n, wrong.size() - unverified, unverified, errors, static_cast<long long>(settle_ms), frames,
      ticks.size(), L.closed_after_ready);
  std::fflush(stdout);
  // Held until killed (the crowd joins while they stay open).
  asio::steady_timer forever(c.io, asio::steady_timer::time_point::max());
  boost::system::error_code ec;
  co_await forever.async_wait(asio::redirect_error(use_awaitable, ec));
  result = "RESULT mode=watch streams=" + std::to_string(n);
}

// GET /v1/queues/Q (operator): the queue's config.opens_at and its draw object.
struct DrawState {
  int64_t opens_at = 0;  // Unix s (0: unset)
  std::string state;
  int64_t entrants = -1;
  int64_t drawn_at_ms = 0;
};

awaitable<DrawState> get_draw(HttpConn& c, const std::string& q, const std::string& admin) {
  auto res = co_await c.request(bhttp::verb::get, "/v1/queues/" + q, "", admin);
  if (res.result_int() != 200)
    die("GET /v1/queues/" + q + " answered " + std::to_string(res.result_int()) + ": " +
        res.body());
  auto v = json::parse(res.body()).as_object();
  DrawState d;
  auto& cfg = v.at("config").as_object();
  if (cfg.contains("opens_at") && !cfg.at("opens_at").is_null())
    d.opens_at = cfg.at("opens_at").to_number<int64_t>();
  if (!v.contains("draw")) die("GET /v1/queues/" + q + " has no draw: " + res.body());
  auto& dr = v.at("draw").as_object();
  d.state = std::string(dr.at("state").as_string());
  d.entrants = dr.at("entrants").to_number<int64_t>();
  d.drawn_at_ms = dr.at("drawn_at_ms").to_number<int64_t>();
  co_return d;
}

awaitable<void> run_draw(Ctx c, std::string& result) {
  const auto& o = c.o;
  std::vector<Url> urls;
  for (auto& u : o.all("url")) urls.push_back(parse_url(c.io, u));
  if (urls.empty()) die("missing --url");
  std::string q = o.need("queue"), admin = o.need("admin-token");
  size_t n = static_cast<size_t>(o.num("streams", 1000));
  int64_t settle_s = o.num("settle-timeout-s", 600);
  size_t check = static_cast<size_t>(o.num("check-places", 50));

  auto joined = co_await join_all(c.io, urls, q, n, static_cast<int>(o.num("join-conns", 32)));
  for (size_t i = 0; i < n; ++i)
    if (joined[i].status != "prequeue")
      die("every join must enter the pre-queue (prequeue_at <= now < opens_at): ticket " +
          std::to_string(i) + " is " + joined[i].status);
  Load L(c.io);
  L.watch_draw = true;
  for (size_t i = 0; i < n; ++i) {
    L.streams.emplace_back(c.io);
    L.streams.back().idx = static_cast<uint32_t>(i);
    L.streams.back().target = static_cast<uint32_t>(i % urls.size());
  }
  co_await L.open_all(
      urls, static_cast<size_t>(o.num("open-conns", 256)),
      [&](size_t i) { return events_path(q, joined[i].ticket); }, c.timeout_s);
  for (auto& s : L.streams)
    if (s.first_type != EventType::prequeue)
      die("stream " + std::to_string(s.idx) + "'s first event is not `prequeue`");

  // The processes have read every join once each stream's latest `prequeue` frame counts all
  // the store's entrants: their event feeds (the outbox tailers, behind the fill's ~1M
  // `entered` events) are then caught up, and the draw's `drawn` event is not queued behind them.
  HttpConn ctl(c.io, urls[0]);
  co_await ctl.connect();
  int64_t t0 = now_us(), last_report = t0;
  DrawState d;
  for (bool more = true; more;) {
    d = co_await get_draw(ctl, q, admin);
    if (d.state != "prequeue") die("the draw is " + d.state + " before the streams were ready");
    size_t same = 0;
    int64_t lo = INT64_MAX, hi = -1;
    for (auto& s : L.streams) {
      same += s.entrants == d.entrants;
      lo = std::min(lo, s.entrants);
      hi = std::max(hi, s.entrants);
    }
    more = same < n;
    if (!more) break;
    int64_t t = now_us();
    if (t - last_report > 5'000'000) {
      last_report = t;
      progress("streams showing all " + std::to_string(d.entrants) +
               " entrants: " + std::to_string(same) + "/" + std::to_string(n) + " (they show " +
               std::to_string(lo) + ".." + std::to_string(hi) + ")");
    }
    if (t - t0 > settle_s * 1'000'000)
      die("after " + std::to_string(settle_s) + " s only " + std::to_string(same) + " of " +
          std::to_string(n) + " streams show the store's " + std::to_string(d.entrants) +
          " entrants (they show " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
    co_await sleep_ms(500);
  }
  progress("every stream shows `prequeue` with all " + std::to_string(d.entrants) + " entrants");
  std::printf("READY streams=%zu entrants=%lld\n", n, static_cast<long long>(d.entrants));
  std::fflush(stdout);

  // Whoever runs the benchmark now sets opens_at; every stream waits for its `drawn` frame.
  int64_t ready_t = now_us();
  last_report = ready_t;
  while (L.draw_done + L.closed_after_ready < n) {
    co_await sleep_ms(5);
    int64_t t = now_us();
    if (t - last_report > 5'000'000) {
      last_report = t;
      progress("streams with their place: " + std::to_string(L.draw_done) + "/" +
               std::to_string(n));
    }
    if (t - ready_t > c.timeout_s * 1'000'000) break;
  }
  // Said at once: the caller reads what Redis did during the draw before our checks add to it.
  std::printf("PLACED streams=%zu\n", L.draw_done);
  std::fflush(stdout);
  co_await sleep_ms(200);
  d = co_await get_draw(ctl, q, admin);
  if (d.state != "drawn") die("the draw is " + d.state + ", not drawn");
  if (d.opens_at <= 0) die("the queue has no opens_at");
  const int64_t opens_us = d.opens_at * 1'000'000;

  // Latency per stream from opens_at; places must be distinct, within 1..entrants.
  std::vector<double> lat;
  std::vector<int64_t> places;
  size_t missing = 0, admitted_first = 0, ended_first = 0, early = 0;
  for (auto& s : L.streams) {
    if (s.draw_t == 0) {
      ++missing;
      continue;
    }
    if (s.draw_t < opens_us) ++early;
    lat.push_back((s.draw_t - opens_us) / 1000.0);
    if (s.draw_type == EventType::admitted) ++admitted_first;
    if (s.draw_type == EventType::ended) ++ended_first;
    if (s.draw_type == EventType::drawn) places.push_back(s.place);
  }
  std::sort(places.begin(), places.end());
  size_t bad = 0;
  for (size_t i = 0; i < places.size(); ++i)
    bad += places[i] < 1 || places[i] > d.entrants || (i > 0 && places[i] == places[i - 1]);
  // A sample of tickets: GET ticket shows the place its stream was told.
  size_t checked = 0, mismatched = 0;
  for (size_t i = 0; i < n && checked < check; i += std::max<size_t>(1, n / check)) {
    auto& s = L.streams[i];
    if (s.draw_type != EventType::drawn) continue;
    auto& u = urls[s.target];
    HttpConn tc(c.io, u);
    co_await tc.connect();
    auto res = co_await tc.request(bhttp::verb::get,
                                   "/v1/queues/" + q + "/tickets/" + joined[i].ticket, "");
    ++checked;
    auto v = json::parse(res.body()).as_object();
    if (!v.contains("place") || v.at("place").to_number<int64_t>() != s.place) {
      ++mismatched;
      if (mismatched <= 3)
        progress("ticket " + std::to_string(i) + ": stream place " + std::to_string(s.place) +
                 ", GET ticket " + res.body());
    }
  }
  write_latencies(o.get("lat-out"), lat);
  std::sort(lat.begin(), lat.end());
  std::printf(
      "%s ms after opens_at; %zu drawn frames, %zu admitted and %zu ended before theirs, "
      "%zu missing, %zu bad places; %zu/%zu sampled tickets agree\n",
      summary("place shown: ", lat).c_str(), places.size(), admitted_first, ended_first, missing,
      bad, checked - mismatched, checked);
  result = "RESULT mode=draw streams=" + std::to_string(n) +
           " processes=" + std::to_string(urls.size()) + " entrants=" + std::to_string(d.entrants) +
           " opens_at=" + std::to_string(d.opens_at) +
           " drawn_ms=" + std::to_string(d.drawn_at_ms - d.opens_at * 1000) +
           " first_ms=" + fmt(lat.empty() ? NAN : lat.front()) + " p50_ms=" + fmt(pct(lat, 0.5)) +
           " p99_ms=" + fmt(pct(lat, 0.99)) +
           " all_ms=" + fmt(lat.empty() || missing ? NAN : lat.back()) +
           " drawn_frames=" + std::to_string(places.size()) +
           " admitted_first=" + std::to_string(admitted_first) +
           " ended_first=" + std::to_string(ended_first) + " missing=" + std::to_string(missing) +
           " early=" + std::to_string(early) + " bad_places=" + std::to_string(bad) +
           " checked=" + std::to_string(checked) + " mismatched=" + std::to_string(mismatched);
}

// ---- Redis SLOWLOG (a minimal blocking RESP client) ----

struct Resp {
  enum Kind { str, num, arr, nil, err } kind = nil;
  std::string s;
  int64_t i = 0;
  std::vector<Resp> a;
};

class RespReader {
 public:
  explicit RespReader(tcp::socket& s) : s_(s) {}
  Resp read() {
    std::string l = line();
    Resp r;
    switch (l[0]) {
      case '+': r.kind = Resp::str; r.s = l.substr(1); break;
      case '-': r.kind = Resp::err; r.s = l.substr(1); break;
      case ':': r.kind = Resp::num; r.i = std::stoll(l.substr(1)); break;
      case '$': {
        long len = std::stol(l.substr(1));
        if (len < 0) break;
        r.kind = Resp::str;
        r.s = bytes(static_cast<size_t>(len) + 2);
        r.s.resize(static_cast<size_t>(len));
        break;
      }
      case '*': {
        long len = std::stol(l.substr(1));
        if (len < 0) break;
        r.kind = Resp::arr;
        for (long k = 0; k < len; ++k) r.a.push_back(read());
        break;
      }
      default: die("bad RESP reply: " + l);
    }
    return r;
  }

 private:
  void fill() {
    if (pos_ > (1u << 20)) {  // a long run of replies (fill mode): drop what was read
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char b[65536];
    size_t n = s_.read_some(asio::buffer(b));
    buf_.append(b, n);
  }
  std::string line() {
    size_t e;
    while ((e = buf_.find("\r\n", pos_)) == std::string::npos) fill();
    std::string l = buf_.substr(pos_, e - pos_);
    pos_ = e + 2;
    return l;
  }
  std::string bytes(size_t n) {
    while (buf_.size() - pos_ < n) fill();
    std::string r = buf_.substr(pos_, n);
    pos_ += n;
    return r;
  }
  tcp::socket& s_;
  std::string buf_;
  size_t pos_ = 0;
};

void run_slowlog(asio::io_context& io, const Options& o, std::string& result) {
  auto url = parse_url(io, o.need("redis"));
  // EVALSHA of one script (--sha), every call of one command (--command zrange), or, with
  // neither, every call; --since keeps the entries logged at or after that Unix second.
  std::string sha = o.get("sha"), command = o.get("command"), match = o.get("match");
  if (!sha.empty() && !command.empty()) die("slowlog takes --sha or --command, not both");
  int64_t since = o.num("since", 0);
  tcp::socket s(io);
  s.connect(url.ep);
  std::string cmd = "*3\r\n$7\r\nSLOWLOG\r\n$3\r\nGET\r\n$2\r\n-1\r\n";
  asio::write(s, asio::buffer(cmd));
  RespReader rd(s);
  Resp r = rd.read();
  if (r.kind != Resp::arr) die("SLOWLOG GET failed: " + r.s);
  std::vector<double> us;
  int64_t max_us = -1, max_at = 0;
  std::string max_cmd;
  std::map<std::string, std::pair<size_t, int64_t>> by_cmd;  // command → calls, longest µs
  // The longest call of a plain command that is O(1) or O(log N) (no script, no range read):
  // when it is long, Redis lost the CPU during it (a loaded machine), it did not work that long.
  int64_t max_small_us = -1;
  std::string max_small_cmd;
  for (auto& e : r.a) {
    if (e.a.size() < 4 || e.a[3].kind != Resp::arr) continue;
    if (e.a[1].i < since) continue;
    auto& args = e.a[3].a;
    if (args.empty()) continue;
    std::string c0 = args[0].s;
    for (auto& ch : c0) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!sha.empty() && (c0 != "evalsha" || args.size() < 2 || args[1].s != sha)) continue;
    if (!command.empty() && c0 != command) continue;
    bool hit = match.empty();
    for (auto& a : args) hit = hit || a.s.find(match) != std::string::npos;
    if (!hit) continue;
    us.push_back(static_cast<double>(e.a[2].i));
    auto& per = by_cmd[c0 == "evalsha" && args.size() > 1 ? c0 + ":" + args[1].s : c0];
    ++per.first;
    per.second = std::max(per.second, e.a[2].i);
    static const char* kSmall[] = {"zrank", "zscore", "zadd", "zrem", "zcard", "zcount", "hget",
                                   "hmget", "hset", "hincrby", "hdel", "exists", "xadd", "incr"};
    bool small = false;
    for (const char* k : kSmall) small = small || c0 == k;
    if (small && e.a[2].i > max_small_us) {
      max_small_us = e.a[2].i;
      max_small_cmd = c0;
    }
    if (e.a[2].i > max_us) {
      max_us = e.a[2].i;
      max_at = e.a[1].i;
      // The command, and for EVALSHA the script's SHA (bench/run.sh names the script).
      max_cmd = c0 == "evalsha" && args.size() > 1 ? c0 + ":" + args[1].s : c0;
    }
  }
  write_latencies(o.get("lat-out"), us);
  std::sort(us.begin(), us.end());
  std::printf("%s us\n", summary("slowlog: ", us).c_str());
  for (auto& [cmd, v] : by_cmd)
    std::printf("  %s: %zu calls, longest %lld us\n", cmd.c_str(), v.first,
                static_cast<long long>(v.second));
  result = "RESULT mode=slowlog n=" + std::to_string(us.size()) +
           " p50_us=" + fmt(pct(us, 0.5), 1) + " p90_us=" + fmt(pct(us, 0.9), 1) +
           " p99_us=" + fmt(pct(us, 0.99), 1) + " max_us=" + fmt(us.empty() ? NAN : us.back(), 1) +
           " sum_us=" + fmt(std::accumulate(us.begin(), us.end(), 0.0), 1) +
           " max_cmd=" + (max_cmd.empty() ? "-" : max_cmd) + " max_at=" + std::to_string(max_at) +
           " max_small_us=" + std::to_string(max_small_us) +
           " max_small_cmd=" + (max_small_cmd.empty() ? "-" : max_small_cmd);
}

// ---- fill: pre-queue joins through the server's own join script, pipelined ----

std::string resp_command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

std::string base64url(const unsigned char* p, size_t n) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += k[(acc << (6 - bits)) & 63];
  return out;
}

void run_fill(asio::io_context& io, const Options& o, std::string& result) {
  auto url = parse_url(io, o.need("redis"));
  std::string sha = o.need("sha"), commit = o.need("commit"), now = o.need("now");
  std::vector<std::string> keys;  // "16 k1 ... k16", as bench/lib.sh queue_keys prints them
  std::istringstream ks(o.need("keys"));
  for (std::string k; ks >> k;) keys.push_back(k);
  const size_t n = static_cast<size_t>(o.num("n", 1000));
  const size_t conns = static_cast<size_t>(o.num("conns", 4));
  const size_t pipeline = static_cast<size_t>(o.num("pipeline", 100));
  const size_t per_call = static_cast<size_t>(std::max(1L, o.num("per-call", 1)));
  // A queue that is open (no draw) gets joins with no draw key, as the server makes them.
  const bool draw_key = o.num("draw-key", 1) != 0;
  // Every K-th join's ticket id is kept (--keep-out): tickets for the streams of a scale run.
  const size_t keep_every = static_cast<size_t>(o.num("keep-every", 0));
  std::vector<std::pair<size_t, std::string>> kept;
  std::atomic<size_t> next{0}, created{0};
  std::atomic<bool> failed{false};
  std::string first_error;
  std::mutex mu;
  int64_t t0 = now_us();
  auto worker = [&] {
    try {
      asio::io_context wio;
      tcp::socket s(wio);
      s.connect(url.ep);
      s.set_option(tcp::no_delay(true));
      RespReader rd(s);
      std::mt19937_64 rng(std::random_device{}());
      std::vector<std::string> head{"EVALSHA", sha};
      head.insert(head.end(), keys.begin(), keys.end());
      head.push_back(commit);
      for (bool more = true; more && !failed;) {
        // `pipeline` calls of up to `per_call` joins each (a batch, as RedisStore sends the
        // joins of one queue that wait while one is in flight).
        size_t from = next.fetch_add(pipeline * per_call);
        size_t m = from >= n ? 0 : std::min(pipeline * per_call, n - from);
        more = m > 0;
        if (m == 0) break;
        std::string batch;
        std::vector<size_t> joins_of_call;
        for (size_t done = 0; done < m;) {
          size_t k = std::min(per_call, m - done);
          std::vector<std::string> args = head;
          for (size_t i = 0; i < k; ++i) {
            // The server's shapes: a 128-bit random ticket id (22 base64url characters) and
            // a 32-byte draw key, uniformly random bytes where the server's is HMAC-SHA256.
            unsigned char b[48];
            for (size_t w = 0; w < 6; ++w) {
              uint64_t r = rng();
              std::memcpy(b + 8 * w, &r, 8);
            }
            // (No invite, no proof of work: two empty strings.)
            std::string id = base64url(b, 16);
            if (keep_every > 0 && (from + done + i) % keep_every == 0) {
              std::lock_guard<std::mutex> l(mu);
              kept.emplace_back(from + done + i, id);
            }
            args.insert(args.end(),
                        {now, id, "",
                         draw_key ? std::string(reinterpret_cast<char*>(b + 16), 32) : "", "",
                         ""});
          }
          batch += resp_command(args);
          joins_of_call.push_back(k);
          done += k;
        }
        asio::write(s, asio::buffer(batch));
        for (size_t k : joins_of_call) {
          Resp r = rd.read();
          // One reply per join, {'ok', view, created}; anything else is a refusal or an error.
          bool ok = r.kind == Resp::arr && r.a.size() == k;
          for (size_t i = 0; ok && i < k; ++i)
            ok = r.a[i].kind == Resp::arr && r.a[i].a.size() >= 3 && r.a[i].a[0].s == "ok";
          if (ok) {
            for (size_t i = 0; i < k; ++i) created += r.a[i].a[2].i == 1;
          } else {
            std::lock_guard<std::mutex> l(mu);
            if (!failed.exchange(true))
              first_error = r.kind == Resp::err ? r.s
                            : r.kind == Resp::arr && !r.a.empty() && !r.a[0].a.empty()
                                ? r.a[0].a[0].s
                                : "unexpected reply";
          }
        }
        if (from / 100000 != (from + m) / 100000)
          progress("fill: " + std::to_string(from + m) + "/" + std::to_string(n) + " (" +
                   fmt((from + m) / ((now_us() - t0) / 1e6), 0) + "/s)");
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> l(mu);
      if (!failed.exchange(true)) first_error = e.what();
    }
  };
  std::vector<std::thread> ts;
  for (size_t i = 0; i < conns; ++i) ts.emplace_back(worker);
  for (auto& t : ts) t.join();
  if (failed) die("fill: a join was not made: " + first_error);
  double secs = (now_us() - t0) / 1e6;
  if (auto path = o.get("keep-out"); !path.empty()) {
    // In join order as far as one process can tell (the connections run side by side: the
    // line's order differs from this by at most a pipeline or two).
    std::sort(kept.begin(), kept.end());
    std::ofstream f(path);
    for (auto& [i, id] : kept) f << id << "\n";
    if (!f) die("fill: cannot write " + path);
  }
  std::printf("fill: %zu pre-queue joins in %.1f s (%.0f/s), %zu created\n", n, secs, n / secs,
              created.load());
  result = "RESULT mode=fill n=" + std::to_string(n) +
           " created=" + std::to_string(created.load()) + " kept=" + std::to_string(kept.size()) +
           " seconds=" + fmt(secs, 1) +
           " per_s=" + fmt(n / secs, 0);
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_options(argc, argv);
  asio::io_context io(1);
  std::string result;
  Ctx c{io, o, o.num("timeout-s", 180)};
  try {
    if (o.mode == "slowlog") {
      run_slowlog(io, o, result);
    } else if (o.mode == "fill") {
      run_fill(io, o, result);
    } else {
      awaitable<void> (*fn)(Ctx, std::string&) = nullptr;
      if (o.mode == "fanout") fn = run_fanout;
      else if (o.mode == "nchan") fn = run_nchan;
      else if (o.mode == "admit") fn = run_admit;
      else if (o.mode == "hold") fn = run_hold;
      else if (o.mode == "watch") fn = run_watch;
      else if (o.mode == "draw")
        fn = run_draw;
      else die("unknown mode " + o.mode);
      bool done = false;
      asio::co_spawn(io, fn(c, result), [&](std::exception_ptr e) {
        done = true;
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            die(std::string("failed: ") + x.what());
          }
        }
        io.stop();
      });
      io.run();
      if (!done) die("stopped early");
    }
  } catch (const std::exception& e) {
    die(e.what());
  }
  std::printf("%s\n", result.c_str());
  std::fflush(stdout);
  // Closing ~19k sockets one by one is slow and pointless: the kernel does it on exit.
  std::_Exit(0);
}
