#include "core/encoding.hpp"
#include "http/server.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "core/rules.hpp"
#include "http/errors.hpp"
#include "token/admission.hpp"

namespace anteroom::http {

namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using bhttp::verb;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {


// The segments of a path, without allocating; more than kMax segments match no route.
struct Segments {
  static constexpr size_t kMax = 8;
  std::string_view s[kMax];
  size_t n = 0;
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  std::string_view operator[](size_t i) const { return s[i]; }
};

Segments split_path(std::string_view path) {
  Segments out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (out.n == Segments::kMax) return Segments{{""}, 1};  // too deep: one segment no route has
    out.s[out.n++] = path.substr(i, j - i);
    i = j;
  }
  return out;
}

// The value of `name` in a query string (no percent-decoding: our values are plain tokens).
std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    size_t eq = kv.find('=');
    if (kv.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string cookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view kv = header.substr(0, semi);
    while (!kv.empty() && kv.front() == ' ') kv.remove_prefix(1);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && kv.substr(0, eq) == name) return std::string(kv.substr(eq + 1));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string_view bearer(std::string_view auth) {
  constexpr std::string_view p = "Bearer ";
  if (auth.size() > p.size() && auth.substr(0, p.size()) == p) return auth.substr(p.size());
  return {};
}

HttpResponse json_response(bhttp::status st, std::string body) {
  HttpResponse res;
  res.status = st;
  res.content_type = "application/json";
  res.cache_control = "no-store";
  res.body = std::move(body);
  return res;
}

// Integral values print as integers (10, not 1E1); others keep two decimals.
json::value number(double d) {
  if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  return std::round(d * 100) / 100;
}

Error bad_json(std::string what) { return err(Errc::invalid_json, std::move(what)); }

// Strict parse of a queue config body: an object of known fields with the right types.
Result<ConfigPatch> parse_patch(const std::string& body) {
  ConfigPatch p;
  if (body.empty()) return p;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return bad_json("the body is not valid JSON: " + ec.message());
  if (!v.is_object()) return err(Errc::bad_request, "the body must be a JSON object");
  for (auto& [k, val] : v.as_object()) {
    auto want = [&](bool ok, const char* type) -> Status {
      if (ok) return Ok{};
      return err(Errc::bad_request, std::string(k) + " must be " + type);
    };
    Status s = Ok{};
    if (k == "admit_per_s") {
      s = want(val.is_number(), "a number");
      if (s) p.admit_per_s = val.to_number<double>();
    } else if (k == "max_active" || k == "session_ttl_s" || k == "abandon_after_s") {
      s = want(val.is_int64() || val.is_uint64(), "an integer");
      if (s) {
        int64_t n = val.is_int64() ? val.as_int64()
                                   : static_cast<int64_t>(std::min<uint64_t>(val.as_uint64(), INT64_MAX));
        if (k == "max_active") p.max_active = n;
        else if (k == "session_ttl_s") p.session_ttl_s = n;
        else p.abandon_after_s = n;
      }
    } else if (k == "paused") {
      s = want(val.is_bool(), "true or false");
      if (s) p.paused = val.as_bool();
    } else if (k == "target_url") {
      s = want(val.is_string(), "a string");
      if (s) p.target_url = std::string(val.as_string());
    } else if (k == "webhooks") {
      // [{"url": "...", "secret": "..."}] or ["url", ...]
      s = want(val.is_array(), "a list of {\"url\",\"secret\"} objects");
      if (!s) return s.error();
      std::vector<WebhookTarget> hooks;
      for (auto& h : val.as_array()) {
        WebhookTarget t;
        if (h.is_string()) {
          t.url = std::string(h.as_string());
        } else if (h.is_object()) {
          for (auto& [hk, hv] : h.as_object()) {
            if ((hk != "url" && hk != "secret") || !hv.is_string())
              return err(Errc::bad_request, "a webhook is {\"url\": string, \"secret\": string}");
            (hk == "url" ? t.url : t.secret) = std::string(hv.as_string());
          }
        } else {
          return err(Errc::bad_request, "a webhook is {\"url\": string, \"secret\": string}");
        }
        hooks.push_back(std::move(t));
      }
      p.webhooks = std::move(hooks);
    } else {
      return err(Errc::bad_request, "unknown field '" + std::string(k) + "'");
    }
    if (!s) return s.error();
  }
  if (auto s = rules::validate(p); !s) return s.error();
  return p;
}

}  // namespace

struct Server::Request {
  const HttpRequest& req;
  std::string_view ip;  // the client's address (X-Real-IP / X-Forwarded-For behind a proxy)
  std::string_view path, query;
  Segments seg;
  unsigned version() const { return req.version; }
  // The 401 for a request without the operator's Bearer token (compared in constant time).
  std::optional<Response> refuse_non_admin(const std::string& token) const {
    auto b = bearer(req.header("Authorization"));
    if (!token.empty() && b.size() == token.size() &&
        CRYPTO_memcmp(b.data(), token.data(), b.size()) == 0)
      return std::nullopt;
    return error_response(err(Errc::unauthorized, "a valid admin token is required"));
  }
};

// A running session, seen by the sweeper (deadlines) and by stop() (idle keep-alives).
struct Server::Conn {
  tcp::socket sock;
  Clock::time_point deadline = Clock::time_point::max();
  bool idle = false;  // waiting for the first byte of a request
};

Server::Server(asio::io_context& io, ServerConfig cfg, QueueStore& store, Hub& hub,
               const TokenSigner& signer, metrics::Registry& m, WebhookJobStore* jobs)
    : io_(io),
      cfg_(std::move(cfg)),
      store_(store),
      hub_(hub),
      signer_(signer),
      metrics_(m),
      jobs_(jobs),
      acceptor_(io),
      sweeper_(io),
      conns_(cfg_.max_connections, cfg_.max_conns_per_ip),
      join_limiter_(cfg_.join_rate_per_ip, cfg_.join_burst_per_ip),
      m_requests_(m.counter("http_requests_total", "HTTP requests handled")),
      m_joins_(m.counter("joins_total", "Tickets created by joins")),
      m_rej_rate_(m.counter("http_rejected_total", "Requests refused by a limit", "reason=\"join_rate\"")),
      m_rej_conn_(m.counter("http_rejected_total", "Requests refused by a limit", "reason=\"connections\"")),
      m_rej_body_(m.counter("http_rejected_total", "Requests refused by a limit", "reason=\"body_size\"")),
      m_rej_header_(m.counter("http_rejected_total", "Requests refused by a limit", "reason=\"header_size\"")),
      m_bad_requests_(m.counter("http_bad_requests_total", "Requests answered with a 4xx")),
      m_verify_ok_(m.counter("verify_total", "Token verifications", "result=\"ok\"")),
      m_verify_refused_(m.counter("verify_total", "Token verifications", "result=\"refused\"")) {
  m.gauge_fn("http_connections", "Open HTTP connections", [this] { return double(conns_.total()); });
}


uint16_t Server::start() {
  tcp::endpoint ep(asio::ip::make_address(cfg_.host), cfg_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  asio::co_spawn(io_, sweep_loop(), asio::detached);
  return acceptor_.local_endpoint().port();
}

void Server::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto* c : live_)
    if (c->idle) c->sock.close(ec);
  hub_.shutdown(std::chrono::milliseconds(1000));
}

asio::awaitable<void> Server::accept_loop() {
  while (!stopping_) {
    auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      // Out of file descriptors or similar: back off briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer t(io_, std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(io_, session(std::move(sock)), asio::detached);
  }
}

// Once a second, closes the sessions past their deadline (a read or write that took too long):
// one timer for all connections instead of one per request.
asio::awaitable<void> Server::sweep_loop() {
  while (!stopping_ || !live_.empty()) {
    sweeper_.expires_after(std::chrono::seconds(1));
    co_await sweeper_.async_wait(use_tuple);
    auto now = Clock::now();
    boost::system::error_code ec;
    for (auto* c : live_)
      if (c->deadline < now) c->sock.close(ec);
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
  auto [wec, wn] = co_await asio::async_write(c.sock, asio::buffer(bytes.data() + n, bytes.size() - n), use_tuple);
  c.deadline = before;
  co_return !wec;
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

  if (!conns_.acquire(ip)) {
    m_rej_conn_.inc();
    auto res = error_response(err(Errc::over_capacity, "too many connections; retry shortly"));
    serialize(res, 11, false, false, out);
    live_.insert(&conn);
    co_await send(conn, out);
    live_.erase(&conn);
    conn.sock.shutdown(tcp::socket::shutdown_send, ec);
    co_return;
  }
  // The connection's slot is given back when the session ends — or, for an event stream, when
  // the hub ends the stream that took over the socket.
  struct Release {
    ConnectionLimiter& c;
    std::unordered_set<Conn*>& live;
    Conn* conn;
    std::string ip;
    bool handed_over = false;
    ~Release() {
      live.erase(conn);
      if (!handed_over) c.release(ip);
    }
  } release{conns_, live_, &conn, ip};
  live_.insert(&conn);

  const WireLimits limits{cfg_.max_header_bytes, cfg_.max_body_bytes};
  std::string buf(1024, '\0');  // bytes read; [0, have) are unparsed requests
  size_t have = 0;
  HttpRequest req;
  for (;;) {
    // Read until one whole request is buffered (often it already is: pipelining).
    conn.deadline = Clock::now() + cfg_.idle_timeout;
    ParseOutcome parsed;
    bool sent_continue = false;
    for (;;) {
      parsed = parse_request(std::string_view(buf.data(), have), limits, req);
      if (parsed.state != ParseOutcome::incomplete) break;
      if (parsed.headers_done && req.expect_continue && !sent_continue) {
        sent_continue = true;
        if (!co_await send(conn, "HTTP/1.1 100 Continue\r\n\r\n")) break;
      }
      if (have == buf.size()) {
        if (buf.size() >= max_request_bytes(limits)) {
          parsed = ParseOutcome{ParseOutcome::failed, 0, false,
                                err(Errc::payload_too_large, "request body exceeds the limit")};
          break;
        }
        buf.resize(std::min(buf.size() * 2, max_request_bytes(limits)));
      }
      conn.idle = have == 0;
      auto [rec, n] = co_await conn.sock.async_read_some(asio::buffer(buf.data() + have, buf.size() - have), use_tuple);
      conn.idle = false;
      if (rec) break;  // closed, reset, or closed by the sweeper / stop()
      have += n;
    }
    if (parsed.state == ParseOutcome::incomplete) break;
    if (parsed.state == ParseOutcome::failed) {
      if (parsed.error->code == Errc::headers_too_large) m_rej_header_.inc();
      else if (parsed.error->code == Errc::payload_too_large) m_rej_body_.inc();
      else m_bad_requests_.inc();
      if (!stopping_) {
        out.clear();
        serialize(error_response(*parsed.error), 11, false, false, out);
        co_await send(conn, out);
      }
      break;
    }
    conn.deadline = Clock::time_point::max();  // handling: the store has its own timeouts
    std::string_view client = ip;
    if (cfg_.trust_proxy) {
      if (auto h = req.header("X-Real-IP"); !h.empty()) client = h;
      else if (auto x = req.header("X-Forwarded-For"); !x.empty()) {
        auto last = x.substr(x.rfind(',') == std::string_view::npos ? 0 : x.rfind(',') + 1);
        while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
        client = last;
      }
    }
    std::string_view target = req.target;
    auto qm = target.find('?');
    std::string_view path = target.substr(0, qm);
    Request r{req, client, path,
              qm == std::string_view::npos ? std::string_view{} : target.substr(qm + 1),
              split_path(path)};
    m_requests_.inc();

    const Segments& seg = r.seg;
    if (req.method == verb::get && seg.size() == 6 && seg[0] == "v1" && seg[1] == "queues" &&
        seg[3] == "tickets" && seg[5] == "events") {
      // (Arguments are named first: GCC 12 mishandles temporaries inside co_await.)
      std::function<void()> on_detach = [this, ip, alive = alive_] {
        if (*alive) conns_.release(ip);
      };
      std::string q(seg[2]), t(seg[4]);
      bool handed = co_await serve_events(conn, r, std::move(q), std::move(t), std::move(on_detach));
      release.handed_over = handed;
      break;
    }
    Response res = co_await handle(r);
    if (static_cast<unsigned>(res.status) >= 400) m_bad_requests_.inc();
    bool keep = req.keep_alive && !stopping_;
    out.clear();
    serialize(res, req.version, keep, req.method == verb::head, out);
    if (!co_await send(conn, out) || !keep) break;
    // The next pipelined request (if any) moves to the front.
    have -= parsed.consumed;
    if (have) std::memmove(buf.data(), buf.data() + parsed.consumed, have);
  }
  if (release.handed_over) co_return;  // the socket is the hub's now
  conn.sock.shutdown(tcp::socket::shutdown_send, ec);
  conn.sock.close(ec);
}

Server::~Server() { *alive_ = false; }

asio::awaitable<Server::Response> Server::handle(Request& r) {
  const Segments& seg = r.seg;
  auto m = r.req.method;
  auto fail = [&](Errc c, std::string msg) { return error_response(err(c, std::move(msg))); };
  auto not_allowed = [&] { return fail(Errc::method_not_allowed, "method not allowed here"); };

  if (seg.empty()) {
    if (m != verb::get && m != verb::head) co_return not_allowed();
    if (cfg_.demo_queue.empty())
      co_return fail(Errc::not_found, "no demo queue; open /q/<queue name>");
    co_return page(r, cfg_.demo_queue);
  }
  if (seg[0] == "q" && seg.size() == 2) {
    if (m != verb::get && m != verb::head) co_return not_allowed();
    if (!rules::valid_queue_name(seg[1]))
      co_return fail(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
    co_return page(r, std::string(seg[1]));
  }
  if (seg.size() == 1 && (seg[0] == "healthz" || seg[0] == "readyz" || seg[0] == "metrics")) {
    if (m != verb::get && m != verb::head) co_return not_allowed();
    if (seg[0] == "metrics") co_return metrics_text(r);
    if (seg[0] == "readyz") {
      auto p = co_await store_.ping();
      if (!p || stopping_) co_return fail(Errc::unavailable, stopping_ ? "shutting down" : p.error().message);
    }
    co_return json_response(bhttp::status::ok, R"({"status":"ok"})");
  }
  if (seg.size() >= 2 && seg[0] == "v1" && seg[1] == "verify" && seg.size() == 2) {
    if (m != verb::get && m != verb::head) co_return not_allowed();
    co_return co_await verify(r);
  }
  if (seg.size() >= 2 && seg[0] == "v1" && seg[1] == "queues") {
    if (seg.size() == 2) {
      if (m != verb::get) co_return not_allowed();
      co_return co_await queues(r, "", 0);
    }
    std::string q(seg[2]);
    if (!rules::valid_queue_name(q))
      co_return fail(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
    if (seg.size() == 3) {
      if (m == verb::put) co_return co_await put_queue(r, q);
      if (m == verb::get) co_return co_await queues(r, q, 1);
      if (m == verb::delete_) co_return co_await queues(r, q, 2);
      co_return not_allowed();
    }
    if (seg[3] == "webhooks" && seg.size() >= 5 && seg[4] == "dead") {
      if (seg.size() == 5 && m == verb::get) co_return co_await dead_letters(r, q, false);
      if (seg.size() == 6 && seg[5] == "redrive" && m == verb::post)
        co_return co_await dead_letters(r, q, true);
      if (seg.size() <= 6) co_return not_allowed();
    }
    if (seg[3] == "tickets") {
      if (seg.size() == 4) {
        if (m != verb::post) co_return not_allowed();
        co_return co_await join(r, q);
      }
      std::string t(seg[4]);
      if (seg.size() == 5) {
        if (m == verb::get) co_return co_await ticket_status(r, q, t, 0);
        if (m == verb::delete_) co_return co_await ticket_status(r, q, t, 1);
        co_return not_allowed();
      }
      if (seg.size() == 6 && seg[5] == "complete") {
        if (m != verb::post) co_return not_allowed();
        co_return co_await complete(r, q, t);
      }
      if (seg.size() == 6 && seg[5] == "events") co_return not_allowed();
    }
  }
  co_return fail(Errc::not_found, "no such endpoint");
}

// The ticket as the API shows it (docs/api.md). Written by hand: it is every join's answer.
asio::awaitable<std::string> Server::ticket_json(const Ticket& t) {
  const QueueConfig* cfg = hub_.config(t.queue);
  QueueConfig fetched;
  if (!cfg && t.state != TicketState::ended) {
    if (auto qi = co_await store_.get_queue(t.queue)) fetched = qi->config;
    cfg = &fetched;
  }
  std::string o;
  o.reserve(160);
  auto key = [&](std::string_view k) {
    o += o.empty() ? "{\"" : ",\"";
    o += k;
    o += "\":";
  };
  auto str = [&](std::string_view k, std::string_view v) {
    key(k);
    bool plain = std::all_of(v.begin(), v.end(), [](unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; });
    if (plain) {
      o += '"';
      o += v;
      o += '"';
    } else {
      o += json::serialize(json::string_view(v));
    }
  };
  auto num = [&](std::string_view k, int64_t v) {
    key(k);
    o += std::to_string(v);
  };
  str("ticket", t.id);
  str("queue", t.queue);
  str("status", to_string(t.state));
  switch (t.state) {
    case TicketState::waiting:
      num("position", t.position);
      num("eta_s", hub_.eta(t.queue, *cfg, t.position, wall_ms()));
      key("paused");
      o += cfg->paused ? "true" : "false";
      break;
    case TicketState::active: {
      Admission a = admission_for(signer_, t.queue, t.id, t.expires_ms, cfg->target_url);
      str("token", a.token);
      num("expires_at", a.expires_at);
      str("redirect", a.redirect);
      break;
    }
    case TicketState::ended:
      str("reason", to_string(t.reason));
      break;
  }
  o += '}';
  co_return o;
}

asio::awaitable<Server::Response> Server::join(Request& r, const std::string& q) {
  if (join_limiter_.enabled() && !join_limiter_.allow(std::string(r.ip), wall_ms())) {
    m_rej_rate_.inc();
    co_return error_response(err(Errc::rate_limited, "too many joins from this address; retry shortly"));
  }
  std::string key;
  const auto& body = r.req.body;
  if (!body.empty()) {
    boost::system::error_code ec;
    json::value j = json::parse(body, ec);
    if (ec) co_return error_response(bad_json("the body is not valid JSON: " + ec.message()));
    if (!j.is_object()) co_return error_response(err(Errc::bad_request, "the body must be a JSON object"));
    for (auto& [k, val] : j.as_object()) {
      if (k != "user")
        co_return error_response(err(Errc::bad_request, "unknown field '" + std::string(k) + "'"));
      if (!val.is_string() || val.as_string().empty() || val.as_string().size() > rules::kMaxUserKey)
        co_return error_response(err(Errc::bad_request, "user must be a string of 1 to 256 characters"));
      key = "u:" + std::string(val.as_string());
    }
  }
  if (key.empty()) {
    auto ik = r.req.header("Idempotency-Key");
    if (ik.size() > rules::kMaxUserKey)
      co_return error_response(err(Errc::bad_request, "Idempotency-Key is longer than 256 characters"));
    if (!ik.empty()) key = "k:" + std::string(ik);
  }
  auto t = co_await store_.join(q, key, wall_ms());
  if (!t) co_return error_response(t.error());
  if (t->created) m_joins_.inc();
  std::string out = co_await ticket_json(*t);
  out.pop_back();  // add events_url to the object
  out += ",\"events_url\":\"/v1/queues/" + q + "/tickets/" + t->id + "/events\"}";
  auto res = json_response(t->created ? bhttp::status::created : bhttp::status::ok, std::move(out));
  res.set("Location", "/v1/queues/" + q + "/tickets/" + t->id);
  co_return res;
}

asio::awaitable<Server::Response> Server::ticket_status(Request& r, const std::string& q,
                                                        const std::string& id, int method) {
  if (!rules::valid_ticket_id(id))
    co_return error_response(err(Errc::ticket_not_found, "no such ticket in this queue"));
  // (GCC 12 miscompiles co_await inside ?:, hence the plain if.)
  Result<Ticket> t = err(Errc::internal, "unreached");
  if (method == 0) t = co_await store_.get_ticket(q, id, true, wall_ms());
  else t = co_await store_.leave(q, id, wall_ms());
  if (!t) co_return error_response(t.error());
  co_return json_response(bhttp::status::ok, co_await ticket_json(*t));
}

asio::awaitable<Server::Response> Server::complete(Request& r, const std::string& q,
                                                   const std::string& id) {
  if (auto refused = r.refuse_non_admin(cfg_.admin_token)) co_return std::move(*refused);
  if (!rules::valid_ticket_id(id))
    co_return error_response(err(Errc::ticket_not_found, "no such ticket in this queue"));
  auto t = co_await store_.complete(q, id, wall_ms());
  if (!t) co_return error_response(t.error());
  co_return json_response(bhttp::status::ok, co_await ticket_json(*t));
}

asio::awaitable<Server::Response> Server::verify(Request& r) {
  auto refuse = [&](std::string why) {
    m_verify_refused_.inc();
    return error_response(err(Errc::invalid_token, std::move(why)));
  };
  std::string token(bearer(r.req.header("Authorization")));
  if (token.empty()) token = cookie(r.req.header("Cookie"), "anteroom_token");
  if (token.empty()) co_return refuse("no admission token (cookie anteroom_token or Bearer)");
  auto claims = signer_.verify(token, wall_ms() / 1000);
  if (!claims) co_return refuse(claims.error().message);
  std::string expect = query_param(r.query, "queue");
  if (expect.empty()) expect = std::string(r.req.header("X-Anteroom-Expect-Queue"));
  if (!expect.empty() && expect != claims->queue) co_return refuse("token is for another queue");
  auto t = co_await store_.get_ticket(claims->queue, claims->ticket, false, wall_ms());
  if (!t) {
    if (t.error().code == Errc::unavailable) co_return error_response(t.error());
    co_return refuse("the admission is unknown");
  }
  if (t->state != TicketState::active) co_return refuse("the session has ended");
  m_verify_ok_.inc();
  Response res;
  res.status = bhttp::status::no_content;
  res.set("X-Anteroom-Queue", claims->queue);
  res.set("X-Anteroom-Ticket", claims->ticket);
  res.cache_control = "no-store";
  co_return res;
}

std::string Server::queue_json(const QueueInfo& i) {
  json::object c;
  c["admit_per_s"] = number(i.config.admit_per_s);
  c["max_active"] = i.config.max_active;
  c["session_ttl_s"] = i.config.session_ttl_s;
  c["abandon_after_s"] = i.config.abandon_after_s;
  c["paused"] = i.config.paused;
  c["target_url"] = i.config.target_url;
  json::array hooks;  // secrets are write-only
  for (const auto& h : i.config.webhooks)
    hooks.push_back(json::object{{"url", h.url}, {"signed", !h.secret.empty()}});
  c["webhooks"] = std::move(hooks);
  Millis now = wall_ms();
  json::object s;
  s["waiting"] = i.stats.waiting;
  s["active"] = i.stats.active;
  s["admitted_total"] = i.stats.admitted_total;
  s["abandoned_total"] = i.stats.abandoned_total;
  s["expired_total"] = i.stats.expired_total;
  s["completed_total"] = i.stats.completed_total;
  s["left_total"] = i.stats.left_total;
  s["admit_rate"] = number(hub_.admit_rate(i.name, now));
  s["oldest_wait_s"] = i.stats.oldest_joined_ms ? (now - i.stats.oldest_joined_ms) / 1000 : 0;
  json::object o;
  o["name"] = i.name;
  o["closed"] = i.closed;
  o["seq"] = i.seq;
  o["config"] = std::move(c);
  o["stats"] = std::move(s);
  return json::serialize(o);
}

asio::awaitable<Server::Response> Server::put_queue(Request& r, const std::string& q) {
  if (auto refused = r.refuse_non_admin(cfg_.admin_token)) co_return std::move(*refused);
  auto patch = parse_patch(r.req.body);
  if (!patch) co_return error_response(patch.error());
  auto before = co_await store_.get_queue(q);
  bool existed = before.ok();
  auto i = co_await store_.put_queue(q, *patch, wall_ms());
  if (!i) co_return error_response(i.error());
  co_return json_response(existed ? bhttp::status::ok : bhttp::status::created, queue_json(*i));
}

asio::awaitable<Server::Response> Server::queues(Request& r, const std::string& q, int method) {
  if (auto refused = r.refuse_non_admin(cfg_.admin_token)) co_return std::move(*refused);
  if (q.empty()) {
    auto all = co_await store_.list_queues();
    if (!all) co_return error_response(all.error());
    std::string out = "{\"queues\":[";
    for (size_t k = 0; k < all->size(); ++k) {
      if (k) out += ',';
      out += queue_json((*all)[k]);
    }
    out += "]}";
    co_return json_response(bhttp::status::ok, std::move(out));
  }
  Result<QueueInfo> i = err(Errc::internal, "unreached");
  if (method == 1) i = co_await store_.get_queue(q);
  else i = co_await store_.close_queue(q, wall_ms());
  if (!i) co_return error_response(i.error());
  co_return json_response(bhttp::status::ok, queue_json(*i));
}

asio::awaitable<Server::Response> Server::dead_letters(Request& r, const std::string& q,
                                                       bool redrive) {
  if (auto refused = r.refuse_non_admin(cfg_.admin_token)) co_return std::move(*refused);
  auto qi = co_await store_.get_queue(q);
  if (!qi) co_return error_response(qi.error());
  if (!jobs_) co_return json_response(bhttp::status::ok, redrive ? R"({"redriven":0})" : R"({"dead":[]})");
  if (redrive) {
    auto n = co_await jobs_->redrive(q, wall_ms());
    if (!n) co_return error_response(n.error());
    co_return json_response(bhttp::status::ok, "{\"redriven\":" + std::to_string(*n) + "}");
  }
  auto dead = co_await jobs_->dead(q);
  if (!dead) co_return error_response(dead.error());
  json::array list;
  for (auto& j : *dead) {
    boost::system::error_code ec;
    list.push_back(json::object{{"id", j.event_id},
                                {"type", j.type},
                                {"url", j.url},
                                {"attempts", j.attempts},
                                {"last_error", j.last_error},
                                {"body", json::parse(j.body, ec)}});
  }
  co_return json_response(bhttp::status::ok, json::serialize(json::object{{"dead", std::move(list)}}));
}

Server::Response Server::page(Request& r, const std::string& q) {
  Response res;
  res.content_type = "text/html; charset=utf-8";
  res.cache_control = "no-cache";
  // The same policy as the page's own <meta> (web/index.html): inline code, same-origin API.
  res.set("Content-Security-Policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'");
  res.body = render_page(q);  // (a HEAD gets its length, not its bytes)
  return res;
}

Server::Response Server::metrics_text(Request& r) {
  Response res;
  res.content_type = "text/plain; version=0.0.4";
  res.body = metrics_.render();
  return res;
}

// An event stream: the hub opens it (current state from the store), then owns the socket and
// writes every frame itself. Returns true if the connection was handed over.
asio::awaitable<bool> Server::serve_events(Conn& c, Request& r, std::string q, std::string t,
                                           std::function<void()> on_detach) {
  auto write_error = [&](const Error& e) -> asio::awaitable<void> {
    std::string out;
    serialize(error_response(e), r.version(), false, false, out);
    co_await send(c, out);
  };
  if (!rules::valid_queue_name(q)) {
    co_await write_error(err(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}"));
    co_return false;
  }
  if (!rules::valid_ticket_id(t)) {
    co_await write_error(err(Errc::ticket_not_found, "no such ticket in this queue"));
    co_return false;
  }
  auto opened = co_await hub_.open(q, t);
  if (!opened) {
    co_await write_error(opened.error());
    co_return false;
  }
  if (stopping_) {
    hub_.close(*opened);
    co_await write_error(err(Errc::over_capacity, "shutting down; retry shortly"));
    co_return false;
  }
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: " +
      std::to_string(cfg_.sse_retry.count()) + "\n\n";
  hub_.attach(*opened, std::move(c.sock), std::move(head), std::move(on_detach));
  co_return true;
}

}  // namespace anteroom::http
