// The protected site's check of an admission token (nginx auth_request, or a direct call).
#include "core/encoding.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"

namespace anteroom::http::site {

namespace asio = boost::asio;

// 204 with the queue and ticket for an admission that is valid now, else 401.
asio::awaitable<HttpResponse> verify(Edge& e, Request& r) {
  auto refuse = [&](std::string why) {
    e.m_verify_refused.inc();
    return error_response(err(Errc::invalid_token, std::move(why)));
  };
  std::string token(bearer(r.req.header("Authorization")));
  if (token.empty()) token = cookie(r.req.header("Cookie"), "anteroom_token");
  if (token.empty()) co_return refuse("no admission token (cookie anteroom_token or Bearer)");
  auto claims = e.signer.verify(token, wall_ms() / 1000);
  if (!claims) co_return refuse(claims.error().message);
  std::string expect = query_param(r.query, "queue");
  if (expect.empty()) expect = std::string(r.req.header("X-Anteroom-Expect-Queue"));
  if (!expect.empty() && expect != claims->queue) co_return refuse("token is for another queue");
  // The token alone is not enough: the session may have ended (completed, expired) since.
  auto t = co_await e.store.get_ticket(claims->queue, claims->ticket, false, wall_ms());
  if (!t) {
    if (t.error().code == Errc::unavailable) co_return error_response(t.error());
    co_return refuse("the admission is unknown");
  }
  if (t->state != TicketState::active) co_return refuse("the session has ended");
  e.m_verify_ok.inc();
  HttpResponse res;
  res.status = bhttp::status::no_content;
  res.set("X-Anteroom-Queue", claims->queue);
  res.set("X-Anteroom-Ticket", claims->ticket);
  res.cache_control = "no-store";
  co_return res;
}

}  // namespace anteroom::http::site
