// Operations and the page: health and readiness probes, Prometheus metrics, and the embedded
// waiting-room page and its proof-of-work worker.
#include "core/rules.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"

namespace anteroom::http {
extern const std::string_view kPowWorkerJs;       // generated from web/pow-worker.js
extern const std::string_view kPowWorkerVersion;  // its SHA-256, 16 hex digits
}  // namespace anteroom::http

namespace anteroom::http::ops {

namespace asio = boost::asio;

namespace {

HttpResponse page_for(std::string_view q) {
  HttpResponse res;
  res.content_type = "text/html; charset=utf-8";
  res.cache_control = "no-cache";
  // The same policy as the page's own <meta> (web/index.html): inline code, same-origin API, and
  // the proof-of-work worker from this origin (/q/pow-worker.js).
  res.set("Content-Security-Policy",
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "img-src data:; connect-src 'self'; worker-src 'self'; base-uri 'none'; "
          "form-action 'none'");
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

// The page names the worker with its version (?v=, written into the page at build time), so that
// URL is cached for good: a crowd opening the page fetches the worker once per browser, and a
// new binary's page names a new URL. Any other ?v= (an old page after an upgrade, a hand-typed
// URL) gets the current worker, revalidated every time.
asio::awaitable<HttpResponse> pow_worker(Edge& e, Request& r) {
  HttpResponse res;
  res.content_type = "text/javascript; charset=utf-8";
  res.cache_control = query_param(r.query, "v") == kPowWorkerVersion
                          ? "public, max-age=31536000, immutable"
                          : "no-cache";
  // A worker runs under the policy delivered with its own script: it needs nothing at all.
  res.set("Content-Security-Policy", "default-src 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.body = std::string(kPowWorkerJs);
  co_return res;
}

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
