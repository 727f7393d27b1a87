// The connection loop: accepting, the deadline sweeper, and each connection's session (read a
// request, route and serve it, write the answer; keep-alive and pipelining), under the limits.
#include <algorithm>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "http/errors.hpp"
#include "http/handlers.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"

namespace anteroom::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Probe overflow: how many connections beyond the limits may wait for their request at once,
// and how long each may take to send it (a balancer's probe arrives with its connection).
constexpr size_t kProbePool = 64;
constexpr auto kProbeDeadline = std::chrono::seconds(2);

namespace {

// The requests a connection beyond the limits may make: a balancer's health and readiness checks.
bool is_probe(const HttpRequest& req) {
  if (req.method != bhttp::verb::get && req.method != bhttp::verb::head) return false;
  std::string_view path = req.target.substr(0, req.target.find('?'));
  return path == "/healthz" || path == "/readyz";
}

}  // namespace

// A full pool makes room by closing its oldest connection: it has had the longest to send its
// request, so a flood of silent connections cannot keep a balancer's probe out.
void Server::admit_probe(Conn& c) {
  if (probes_.size() >= kProbePool) {
    auto oldest = std::min_element(probes_.begin(), probes_.end(),
                                   [](Conn* a, Conn* b) { return a->deadline < b->deadline; });
    boost::system::error_code ec;
    (*oldest)->sock.close(ec);
    probes_.erase(oldest);
  }
  c.deadline = Clock::now() + kProbeDeadline;
  probes_.insert(&c);
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;  // stop()
      // Out of file descriptors or similar: back off briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      bool waited = co_await async::sleep_for(std::chrono::milliseconds(50));
      if (!waited) co_return;
      continue;
    }
    asio::co_spawn(io_, session(std::move(sock)), asio::detached);
  }
}

// Once a second, closes the sessions past their deadline (a read or write that took too long):
// one timer for all connections instead of one per request. After stop() it runs until the
// last session is gone.
asio::awaitable<void> Server::sweep_loop() {
  for (;;) {
    bool woke = co_await async::sleep_for(std::chrono::seconds(1));
    if (!woke) co_return;
    auto now = Clock::now();
    boost::system::error_code ec;
    for (auto* c : live_)
      if (c->deadline < now) c->sock.close(ec);
    if (edge_->stopping && live_.empty()) co_return;
  }
}

// Writes all of `bytes`: straight away if the socket takes them (the usual case), else waiting
// under the write deadline. False if the connection is gone.
asio::awaitable<bool> Server::send(Conn& c, std::string_view bytes) {
  boost::system::error_code ec;
  size_t n = c.sock.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec == asio::error::would_block) n = 0, ec = {};
  if (ec) co_return false;
  if (n == bytes.size()) co_return true;
  auto before = c.deadline;
  c.deadline = Clock::now() + cfg_.write_timeout;
  auto [wec, wn] = co_await asio::async_write(
      c.sock, asio::buffer(bytes.data() + n, bytes.size() - n), use_tuple);
  c.deadline = before;
  co_return !wec;
}

// Routes one request and runs its handler.
asio::awaitable<HttpResponse> Server::serve(const HttpRequest& req, std::string_view peer,
                                            Takeover& takeover, bool& close) {
  std::string_view target = req.target;
  auto qm = target.find('?');
  const std::string client = client_address(req, peer, cfg_.proxy);
  Request r{req, client, target.substr(0, qm),
            qm == std::string_view::npos ? std::string_view{} : target.substr(qm + 1)};
  r.takeover = &takeover;
  m_requests_.inc();
  auto handler = route(req.method, r.path, r);
  if (!handler) co_return error_response(handler.error());
  // An event stream keeps its connection while its visitor waits: streams may hold only
  // stream_cap() connections, so that the reserve stays free for ordinary requests and probes.
  const bool stream = *handler == &visitor::events;
  if (stream && !conns_->acquire_stream()) {
    m_rej_streams_.inc();
    close = true;
    co_return error_response(err(Errc::over_capacity, "too many event streams; retry shortly"));
  }
  HttpResponse res = co_await (*handler)(*edge_, r);
  if (stream && !takeover.done) conns_->release_stream();  // refused: it never became one
  close = r.close;
  co_return res;
}

asio::awaitable<void> Server::session(tcp::socket sock) {
  boost::system::error_code ec;
  auto remote = sock.remote_endpoint(ec);
  if (ec) co_return;
  std::string ip = remote.address().to_string();
  sock.set_option(tcp::no_delay(true), ec);
  sock.non_blocking(true, ec);
  Conn conn{std::move(sock)};
  std::string out;  // serialized responses

  // A trusted proxy (--trusted-proxies) carries many clients: its connections count toward the
  // total cap only. Beyond the limits a connection is not counted and may ask one health probe
  // only (probe overflow): a balancer's /healthz is answered even when every connection is taken.
  const bool per_address = !cfg_.proxy.listed(remote.address());
  const bool probe = !conns_->acquire(ip, per_address);
  if (probe) admit_probe(conn);
  // The connection's slot is given back when the session ends — or, for an event stream, when
  // the hub ends the stream that took over the socket (on_detach, which may run after the
  // server is gone: it holds the limiter, not the server).
  Takeover takeover{conn.sock,
                    [conns = conns_, ip, per_address] {
                      conns->release(ip, per_address);
                      conns->release_stream();
                    },
                    [conns = conns_, ip, per_address] { conns->release(ip, per_address); }};
  struct Release {
    ConnectionLimiter& c;
    std::unordered_set<Conn*>& live;
    std::unordered_set<Conn*>& probes;
    Conn* conn;
    const std::string& ip;
    const Takeover& takeover;
    bool counted, per_address;
    ~Release() {
      live.erase(conn);
      probes.erase(conn);
      if (counted && !takeover.done) c.release(ip, per_address);
    }
  } release{*conns_, live_, probes_, &conn, ip, takeover, !probe, per_address};
  live_.insert(&conn);

  const WireLimits limits{cfg_.max_header_bytes, cfg_.max_body_bytes};
  std::string buf(1024, '\0');  // bytes read; [0, have) are unparsed requests
  size_t have = 0;
  HttpRequest req;
  RequestParser parser(limits);  // resumes where it stopped: each byte is examined once
  for (;;) {
    // Read until one whole request is buffered (often it already is: pipelining).
    conn.deadline = Clock::now() + (probe ? kProbeDeadline : cfg_.idle_timeout);
    ParseOutcome parsed;
    bool sent_continue = false;
    parser.reset();
    for (;;) {
      parsed = parser.parse(std::string_view(buf.data(), have), req);
      if (parsed.state != ParseOutcome::incomplete) break;
      if (parsed.headers_done && req.expect_continue && !sent_continue) {
        sent_continue = true;
        bool sent = co_await send(conn, "HTTP/1.1 100 Continue\r\n\r\n");
        if (!sent) break;
      }
      if (have == buf.size()) {
        if (buf.size() >= max_request_bytes(limits)) {
          parsed = ParseOutcome{ParseOutcome::failed, 0, false,
                                err(Errc::payload_too_large, "request body exceeds the limit")};
          break;
        }
        buf.resize(std::min(buf.size() * 2, max_request_bytes(limits)));
      }
      // Once stopping, no read is started: a request not yet read whole will not be served.
      if (edge_->stopping) break;
      conn.idle = have == 0;
      conn.reading = true;
      auto [rec, n] = co_await conn.sock.async_read_some(
          asio::buffer(buf.data() + have, buf.size() - have), use_tuple);
      conn.idle = conn.reading = false;
      if (rec) break;  // closed, reset, or closed by the sweeper / cancelled by stop()
      have += n;
    }
    if (parsed.state == ParseOutcome::incomplete) {
      // Shutting down with part of a request read (headers or body): answer 503 and close at
      // once rather than wait for the rest, so a restart does not wait the whole grace for a
      // slow or stalled client, and the client (or its proxy) knows it may retry elsewhere:
      // nothing of the request was acted on.
      if (edge_->stopping && have > 0 && conn.sock.is_open()) {
        out.clear();
        serialize(error_response(err(Errc::unavailable, "shutting down; retry shortly")), 11, false,
                  false, out);
        count_response(503);
        co_await send(conn, out);
      }
      break;
    }
    if (parsed.state == ParseOutcome::failed) {
      if (parsed.error->code == Errc::headers_too_large) m_rej_header_.inc();
      else if (parsed.error->code == Errc::payload_too_large) m_rej_body_.inc();
      else m_bad_requests_.inc();
      if (!edge_->stopping) {
        out.clear();
        HttpResponse refusal = error_response(*parsed.error);
        serialize(refusal, 11, false, false, out);
        count_response(static_cast<unsigned>(refusal.status));
        co_await send(conn, out);
      }
      break;
    }
    conn.deadline = Clock::time_point::max();  // handling: the store has its own timeouts
    // (A probe's request is here: it is no longer one to close to make room.)
    probes_.erase(&conn);
    bool close = false;
    HttpResponse res;
    if (probe && !is_probe(req)) {
      m_rej_conn_.inc();
      res = error_response(err(Errc::over_capacity, "too many connections; retry shortly"));
    } else {
      if (probe) m_probes_overflow_.inc();
      res = co_await serve(req, ip, takeover, close);
      if (takeover.done) {  // an event stream: the socket is the hub's (or dashboard's) now
        count_response(200);  // (its head is written by its new owner)
        break;
      }
      if (static_cast<unsigned>(res.status) >= 400) m_bad_requests_.inc();
    }
    bool keep = req.keep_alive && !edge_->stopping && !close && !probe;
    out.clear();
    serialize(res, req.version, keep, req.method == bhttp::verb::head, out);
    count_response(static_cast<unsigned>(res.status));
    bool sent = co_await send(conn, out);
    if (!sent || !keep) break;
    // The next pipelined request (if any) moves to the front.
    have -= parsed.consumed;
    if (have) std::memmove(buf.data(), buf.data() + parsed.consumed, have);
  }
  if (takeover.done) co_return;
  conn.sock.shutdown(tcp::socket::shutdown_send, ec);
  conn.sock.close(ec);
}

}  // namespace anteroom::http
