// The operator's dashboard at the edge (docs/dashboard.md, docs/api.md "Operator's dashboard"):
// the page and its two assets (public: they hold no data), and the three data routes behind the
// admin Bearer token — the latest overview frame, a queue's history, and the admin event stream,
// whose socket is handed to the dashboard (Dashboard::attach) like a visitor's to the hub.
#include "dashboard/dashboard.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"

namespace anteroom::http {
extern const std::string_view kAdminHtml;  // generated from web/admin.html
extern const std::string_view kAdminJs;    // web/admin.js
extern const std::string_view kAdminCss;   // web/admin.css
}  // namespace anteroom::http

namespace anteroom::http {

namespace asio = boost::asio;

namespace {

// Revalidated every time (a new binary serves a new page at once), never sniffed, never framed,
// and no Referer to the protected site the dashboard may share an origin with.
HttpResponse asset(std::string_view content_type, std::string_view body) {
  HttpResponse res;
  res.content_type = content_type;
  res.cache_control = "no-cache";
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  res.body = std::string(body);  // (a HEAD gets its length, not its bytes)
  return res;
}

// The dashboard's data is refused before anything else when the sampling is off: there is no
// frame to give (--dashboard-sample-ms 0).
std::optional<HttpResponse> refuse_off(const Edge& e) {
  if (e.dash.enabled()) return std::nullopt;
  return error_response(
      err(Errc::unavailable, "the dashboard is off on this process (--dashboard-sample-ms 0)"));
}

}  // namespace

namespace ops {

// No 'unsafe-inline' anywhere: the page's script and style are the two files below, and its
// charts are SVG built with DOM calls and styled by class (web/admin.js).
asio::awaitable<HttpResponse> admin_page(Edge& e, Request& r) {
  HttpResponse res = asset("text/html; charset=utf-8", kAdminHtml);
  res.set("Content-Security-Policy",
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
          "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  co_return res;
}

asio::awaitable<HttpResponse> admin_js(Edge& e, Request& r) {
  co_return asset("text/javascript; charset=utf-8", kAdminJs);
}

asio::awaitable<HttpResponse> admin_css(Edge& e, Request& r) {
  co_return asset("text/css; charset=utf-8", kAdminCss);
}

}  // namespace ops

namespace op {

asio::awaitable<HttpResponse> admin_overview(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  if (auto off = refuse_off(e)) co_return std::move(*off);
  co_return json_response(bhttp::status::ok, e.dash.overview());
}

asio::awaitable<HttpResponse> admin_history(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  if (auto off = refuse_off(e)) co_return std::move(*off);
  auto h = e.dash.history(r.q);
  if (!h)
    co_return error_response(
        err(Errc::queue_not_found, "the dashboard has no sample of this queue"));
  co_return json_response(bhttp::status::ok, std::move(*h));
}

// On success the dashboard owns the socket and writes every frame itself; the connection stays
// counted (not as a visitor event stream: it takes no stream slot) until the stream ends.
asio::awaitable<HttpResponse> admin_stream(Edge& e, Request& r) {
  r.close = true;
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  if (auto off = refuse_off(e)) co_return std::move(*off);
  if (e.stopping) co_return error_response(err(Errc::unavailable, "shutting down; retry shortly"));
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
      "retry: " +
      std::to_string(e.cfg.sse_retry.count()) + "\n\n";
  if (!e.dash.attach(r.takeover->sock, std::move(head), std::move(r.takeover->on_detach_admin)))
    co_return error_response(
        err(Errc::over_capacity, "too many dashboard streams open; retry shortly"));
  r.takeover->done = true;
  co_return HttpResponse{};
}

}  // namespace op

}  // namespace anteroom::http
