// The visitor's API: join, look, leave, and the event stream.
#include <boost/json.hpp>

#include "core/encoding.hpp"
#include "core/rules.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"
#include "http/ticket_view.hpp"

namespace anteroom::http::visitor {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

HttpResponse no_such_ticket() {
  return error_response(err(Errc::ticket_not_found, "no such ticket in this queue"));
}

// The join's dedupe key: the body's {"user": ...}, else the Idempotency-Key header; "" if none.
Result<std::string> dedupe_key(const HttpRequest& req) {
  std::string key;
  if (!req.body.empty()) {
    boost::system::error_code ec;
    json::value j = json::parse(req.body, ec);
    if (ec) return err(Errc::invalid_json, "the body is not valid JSON: " + ec.message());
    if (!j.is_object()) return err(Errc::bad_request, "the body must be a JSON object");
    for (auto& [k, val] : j.as_object()) {
      if (k != "user") return err(Errc::bad_request, "unknown field '" + std::string(k) + "'");
      if (!val.is_string() || val.as_string().empty() ||
          val.as_string().size() > rules::kMaxUserKey)
        return err(Errc::bad_request, "user must be a string of 1 to 256 characters");
      key = "u:" + std::string(val.as_string());
    }
  }
  if (key.empty()) {
    auto ik = req.header("Idempotency-Key");
    if (ik.size() > rules::kMaxUserKey)
      return err(Errc::bad_request, "Idempotency-Key is longer than 256 characters");
    if (!ik.empty()) key = "k:" + std::string(ik);
  }
  return key;
}

}  // namespace

asio::awaitable<HttpResponse> join(Edge& e, Request& r) {
  if (e.join_limiter.enabled() && !e.join_limiter.allow(std::string(r.ip), wall_ms())) {
    e.m_rej_rate.inc();
    co_return error_response(
        err(Errc::rate_limited, "too many joins from this address; retry shortly"));
  }
  auto key = dedupe_key(r.req);
  if (!key) co_return error_response(key.error());
  std::string k = std::move(key).value();
  auto t = co_await e.store.join(r.q, std::move(k), wall_ms());
  if (!t) co_return error_response(t.error());
  if (t->created) e.m_joins.inc();
  std::string body = co_await ticket_body(e, *t, /*events_url=*/true);
  auto res =
      json_response(t->created ? bhttp::status::created : bhttp::status::ok, std::move(body));
  res.set("Location", "/v1/queues/" + r.q + "/tickets/" + t->id);
  co_return res;
}

asio::awaitable<HttpResponse> get_ticket(Edge& e, Request& r) {
  if (!rules::valid_ticket_id(r.t)) co_return no_such_ticket();
  auto t = co_await e.store.get_ticket(r.q, r.t, /*touch=*/true, wall_ms());
  if (!t) co_return error_response(t.error());
  co_return json_response(bhttp::status::ok, co_await ticket_body(e, *t));
}

asio::awaitable<HttpResponse> leave(Edge& e, Request& r) {
  if (!rules::valid_ticket_id(r.t)) co_return no_such_ticket();
  auto t = co_await e.store.leave(r.q, r.t, wall_ms());
  if (!t) co_return error_response(t.error());
  co_return json_response(bhttp::status::ok, co_await ticket_body(e, *t));
}

// The hub opens the stream (current state from the store), then owns the socket and writes
// every frame itself. An error is answered here and the connection closed after it.
asio::awaitable<HttpResponse> events(Edge& e, Request& r) {
  r.close = true;
  if (!rules::valid_ticket_id(r.t)) co_return no_such_ticket();
  auto opened = co_await e.hub.open(r.q, r.t);
  if (!opened) co_return error_response(opened.error());
  if (e.stopping) {
    e.hub.close(*opened);
    co_return error_response(err(Errc::over_capacity, "shutting down; retry shortly"));
  }
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: " +
      std::to_string(e.cfg.sse_retry.count()) + "\n\n";
  e.hub.attach(*opened, std::move(r.takeover->sock), std::move(head),
               std::move(r.takeover->on_detach));
  r.takeover->done = true;
  co_return HttpResponse{};
}

}  // namespace anteroom::http::visitor
