#pragma once
// The handlers of the route table (routes.cpp), grouped by who calls them, and the one context
// they share. Each is one (method, path) and gets the route's path parameters in the Request.
// Internal to http.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <unordered_map>

#include "http/limits.hpp"
#include "http/request.hpp"
#include "http/server.hpp"
#include "pow/meter.hpp"

namespace anteroom::http {

// The proof of work's and the invites' metrics (docs/pow.md, docs/api.md "Metrics").
struct PowProbe {
  explicit PowProbe(metrics::Registry& m);
  metrics::Counter& challenges;   // challenges minted (GET challenge and pow_* refusals)
  metrics::Histogram& bits;       // bits of each challenge minted
  metrics::Counter& verified;     // joins whose proof the store accepted
  // pow_* refusals by reason: required, invalid, wrong_queue, expired, insufficient, used.
  metrics::Counter* refused[6];
  metrics::Counter& invite_joins;  // tickets created with an invite code
  // invite_* refusals by reason: required, invalid, used_up, expired, revoked.
  metrics::Counter* invite_refused[5];
};

// A queue's PowConfig as the edge last read it (store.get_queue), used for up to kPowConfigTtlMs:
// the meter and the challenge route need it before the store's join, and one read per queue per
// second is what they cost instead of one per request.
struct CachedPow {
  PowConfig pow;
  Millis read_ms = 0;
};
inline constexpr Millis kPowConfigTtlMs = 1000;
inline constexpr size_t kMaxPowConfigs = 10'000;
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// What the handlers use. Owned by the Server; lives as long as it.
struct Edge {
  const ServerConfig& cfg;
  QueueStore& store;
  Hub& hub;
  const TokenSigner& signer;
  metrics::Registry& metrics;
  dashboard::Dashboard& dash;  // the operator's dashboard (admin.cpp)
  WebhookJobStore* jobs;  // may be null: no dead-letter store
  RateLimiter join_limiter;
  bool stopping = false;  // Server::stop() was called

  metrics::Counter& m_joins;
  metrics::Counter& m_rej_rate;
  metrics::Counter& m_verify_ok;
  metrics::Counter& m_verify_refused;
  // Joins refused by the on-sale rules, by reason: before prequeue_at, mode reject, closes_at.
  metrics::Counter& m_refused_not_open;
  metrics::Counter& m_refused_reject;
  metrics::Counter& m_refused_closed;
  metrics::Counter& m_draw_pages;  // GET .../draw answered (200, or 304 to a cache)

  // Proof of work (SPEC §8): the key challenges are signed with (pow::derive_key of the token
  // secret: every process of a fleet checks every other's), this process's meter, the config
  // cache (bounded: cleared past kMaxPowConfigs entries), the metrics.
  std::string pow_key;
  PowProbe pow_m;
  pow::Meter meter{};
  std::unordered_map<std::string, CachedPow, NameHash, std::equal_to<>> pow_cfg{};
};

using Handler = boost::asio::awaitable<HttpResponse> (*)(Edge&, Request&);

// The visitor's page and API (visitor.cpp): no credentials; the ticket id is the capability.
namespace visitor {
boost::asio::awaitable<HttpResponse> join(Edge& e, Request& r);        // POST tickets
// GET /v1/queues/{q}/challenge: a proof-of-work challenge at the bits the client needs now.
boost::asio::awaitable<HttpResponse> challenge(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> get_ticket(Edge& e, Request& r);  // GET tickets/{t}
boost::asio::awaitable<HttpResponse> leave(Edge& e, Request& r);       // DELETE tickets/{t}
// GET tickets/{t}/events: on success hands the connection to the hub (r.takeover).
boost::asio::awaitable<HttpResponse> events(Edge& e, Request& r);
// GET /v1/queues/{q}/draw?after=&limit=: one page of the draw (public; drawn pages immutable).
inline constexpr int64_t kMaxDrawPage = 10000;
boost::asio::awaitable<HttpResponse> draw(Edge& e, Request& r);
}  // namespace visitor

// The protected site (site.cpp): checks the admission token its visitor brings.
namespace site {
boost::asio::awaitable<HttpResponse> verify(Edge& e, Request& r);  // GET /v1/verify
}  // namespace site

// The operator (operator.cpp, invites.cpp): every handler requires the admin Bearer token.
namespace op {
boost::asio::awaitable<HttpResponse> list_queues(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> put_queue(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> get_queue(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> close_queue(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> complete(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> dead_letters(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> redrive(Edge& e, Request& r);
// Invite codes (invites.cpp, docs/invites.md): POST mints, GET lists a page in code order,
// DELETE .../invites/{code} revokes.
boost::asio::awaitable<HttpResponse> create_invites(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> list_invites(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> revoke_invite(Edge& e, Request& r);
// The dashboard's data (admin.cpp, docs/dashboard.md): the latest overview frame, a queue's last
// 15 minutes, and the admin event stream (on success hands the connection to the dashboard:
// r.takeover). 503 unavailable while the dashboard is off (--dashboard-sample-ms 0).
boost::asio::awaitable<HttpResponse> admin_overview(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> admin_history(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> admin_stream(Edge& e, Request& r);
}  // namespace op

// Operations and the page (ops.cpp): probes, metrics, the waiting-room page.
namespace ops {
boost::asio::awaitable<HttpResponse> demo_page(Edge& e, Request& r);  // GET /
boost::asio::awaitable<HttpResponse> page(Edge& e, Request& r);       // GET /q/{q}
// GET /q/pow-worker.js?v=: the page's proof-of-work solver (web/pow-worker.js). Under /q/ so that
// every proxy set up for the page (docs/proxy.md: location ~ ^/(v1|q)/) passes it on.
boost::asio::awaitable<HttpResponse> pow_worker(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> healthz(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> readyz(Edge& e, Request& r);
boost::asio::awaitable<HttpResponse> metrics(Edge& e, Request& r);
// The dashboard's page and assets (admin.cpp; web/admin.{html,js,css} embedded at build time):
// public, as they hold no data; the page signs in with the admin token (docs/dashboard.md).
boost::asio::awaitable<HttpResponse> admin_page(Edge& e, Request& r);  // GET /admin
boost::asio::awaitable<HttpResponse> admin_js(Edge& e, Request& r);    // GET /admin/app.js
boost::asio::awaitable<HttpResponse> admin_css(Edge& e, Request& r);   // GET /admin/app.css
}  // namespace ops

}  // namespace anteroom::http
