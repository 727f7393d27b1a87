// Operations and the page: health and readiness probes, Prometheus metrics, and the embedded
// waiting-room page.
#include "core/rules.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"

namespace anteroom::http::ops {

namespace asio = boost::asio;

namespace {

HttpResponse page_for(std::string_view q) {
  HttpResponse res;
  res.content_type = "text/html; charset=utf-8";
  res.cache_control = "no-cache";
  // The same policy as the page's own <meta> (web/index.html): inline code, same-origin API.
  res.set("Content-Security-Policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'");
  res.body = render_page(q);  // (a HEAD gets its length, not its bytes)
  return res;
}

}  // namespace

asio::awaitable<HttpResponse> demo_page(Edge& e, Request& r) {
  if (e.cfg.demo_queue.empty())
    co_return error_response(err(Errc::not_found, "no demo queue; open /q/<queue name>"));
  co_return page_for(e.cfg.demo_queue);
}

asio::awaitable<HttpResponse> page(Edge& e, Request& r) { co_return page_for(r.q); }

asio::awaitable<HttpResponse> healthz(Edge& e, Request& r) {
  co_return json_response(bhttp::status::ok, R"({"status":"ok"})");
}

// Ready: the store answers and the server is not shutting down (a balancer then stops sending).
asio::awaitable<HttpResponse> readyz(Edge& e, Request& r) {
  auto p = co_await e.store.ping();
  if (!p || e.stopping)
    co_return error_response(
        err(Errc::unavailable, e.stopping ? "shutting down" : p.error().message));
  co_return json_response(bhttp::status::ok, R"({"status":"ok"})");
}

asio::awaitable<HttpResponse> metrics(Edge& e, Request& r) {
  HttpResponse res;
  res.content_type = "text/plain; version=0.0.4";
  res.body = e.metrics.render();
  co_return res;
}

}  // namespace anteroom::http::ops
