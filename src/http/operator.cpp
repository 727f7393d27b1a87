// The operator's API: queues (create or change, look, list, close), ending a session early, and
// the webhook dead letters. Every handler first checks the admin Bearer token.
#include <boost/json.hpp>

#include "core/encoding.hpp"
#include "core/rules.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"
#include "http/queue_config.hpp"
#include "http/ticket_view.hpp"
#include "views/views.hpp"

namespace anteroom::http::op {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

HttpResponse queue_response(Edge& e, bhttp::status st, const QueueInfo& i) {
  Millis now = wall_ms();
  return json_response(st, views::queue_json(i, e.hub.admit_rate(i.name, now), now));
}

}  // namespace

asio::awaitable<HttpResponse> list_queues(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  auto all = co_await e.store.list_queues();
  if (!all) co_return error_response(all.error());
  Millis now = wall_ms();
  std::string out = "{\"queues\":[";
  for (size_t k = 0; k < all->size(); ++k) {
    if (k) out += ',';
    const QueueInfo& i = (*all)[k];
    out += views::queue_json(i, e.hub.admit_rate(i.name, now), now);
  }
  out += "]}";
  co_return json_response(bhttp::status::ok, std::move(out));
}

// 201 if this PUT created the queue, else 200 (changed, or reopened if it was closed).
asio::awaitable<HttpResponse> put_queue(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  auto patch = parse_patch(r.req.body, e.cfg.webhook_allow_private);
  if (!patch) co_return error_response(patch.error());
  auto i = co_await e.store.put_queue(r.q, *patch, wall_ms());
  if (!i) co_return error_response(i.error());
  e.pow_cfg[r.q] = CachedPow{i->config.pow, wall_ms()};  // this process's challenges: at once
  co_return queue_response(e, i->created ? bhttp::status::created : bhttp::status::ok, *i);
}

asio::awaitable<HttpResponse> get_queue(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  auto i = co_await e.store.get_queue(r.q);
  if (!i) co_return error_response(i.error());
  co_return queue_response(e, bhttp::status::ok, *i);
}

asio::awaitable<HttpResponse> close_queue(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  auto i = co_await e.store.close_queue(r.q, wall_ms());
  if (!i) co_return error_response(i.error());
  co_return queue_response(e, bhttp::status::ok, *i);
}

// The protected site's backend says the visitor is done: the slot goes to the next in line.
asio::awaitable<HttpResponse> complete(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  if (!rules::valid_ticket_id(r.t))
    co_return error_response(err(Errc::ticket_not_found, "no such ticket in this queue"));
  auto t = co_await e.store.complete(r.q, r.t, wall_ms());
  if (!t) co_return error_response(t.error());
  co_return json_response(bhttp::status::ok, co_await ticket_body(e, *t));
}

// The webhook deliveries that gave up, oldest first, with their bodies as JSON.
asio::awaitable<HttpResponse> dead_letters(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  auto qi = co_await e.store.get_queue(r.q);
  if (!qi) co_return error_response(qi.error());
  if (!e.jobs) co_return json_response(bhttp::status::ok, R"({"dead":[]})");
  auto dead = co_await e.jobs->dead(r.q);
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
  co_return json_response(bhttp::status::ok,
                          json::serialize(json::object{{"dead", std::move(list)}}));
}

// Puts every dead letter of the queue back for delivery.
asio::awaitable<HttpResponse> redrive(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  auto qi = co_await e.store.get_queue(r.q);
  if (!qi) co_return error_response(qi.error());
  if (!e.jobs) co_return json_response(bhttp::status::ok, R"({"redriven":0})");
  auto n = co_await e.jobs->redrive(r.q, wall_ms());
  if (!n) co_return error_response(n.error());
  co_return json_response(bhttp::status::ok, "{\"redriven\":" + std::to_string(*n) + "}");
}

}  // namespace anteroom::http::op
