#pragma once
// The HTTP/1.1 edge: accepts connections, enforces limits, routes each request through the
// route table (routes.cpp) to its handler, and hands event streams to the hub. One coroutine per
// connection; HTTP/1.1 by hand (wire.hpp).
//
// Threading: runs on the io_context given; not thread-safe. Lifetime: must outlive its
// connections; call stop() and let the io_context drain before destroying.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_set>

#include "async/task_group.hpp"
#include "dashboard/dashboard.hpp"
#include "http/limits.hpp"
#include "http/request.hpp"
#include "http/wire.hpp"
#include "hub/hub.hpp"
#include "metrics/metrics.hpp"
#include "store/queue_store.hpp"
#include "token/jwt.hpp"
#include "webhooks/job_store.hpp"

namespace anteroom::http {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string admin_token;
  std::string demo_queue;  // served at GET /
  size_t max_body_bytes = 16 * 1024;
  size_t max_header_bytes = 8 * 1024;
  int64_t max_connections = 18'000;  // below the process's open-file limit
  int64_t max_conns_per_ip = 1'000;
  // Connections event streams cannot take: ordinary requests and health checks always have
  // them. 0: automatic, max(64, 5% of max_connections) but at most half of it (stream_cap()).
  int64_t conn_reserve = 0;
  // IPv6 clients are counted (connections, join rate) by this many leading bits: 64 = per /64.
  int ipv6_prefix_len = 64;
  double join_rate_per_ip = 20;  // joins per second per client address; 0 = unlimited
  double join_burst_per_ip = 40;
  // Whose forwarding headers name the client (docs/proxy.md). --trust-proxy is kept as an alias
  // of --trust-proxy-hops 1: the constructor sets proxy.hops to 1 if it is 0.
  bool trust_proxy = false;
  ProxyTrust proxy;
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds write_timeout{30};
  std::chrono::milliseconds sse_retry{2000};
  // Copied from WebhookOptions::allow_private (--webhook-allow-private): PUT accepts webhook
  // URLs whose host is a non-public address literal.
  bool webhook_allow_private = false;

  // The most connections that may be event streams at once: max_connections - the reserve.
  int64_t stream_cap() const;
};

struct Edge;
struct Takeover;

class Server {
 public:
  // `jobs` (may be null): the webhook job store behind the dead-letter endpoints.
  // `dash`: the operator's dashboard behind the admin routes (admin.cpp); it must outlive the
  // server's connections, as its watchers' sockets are the server's connections.
  Server(boost::asio::io_context& io, ServerConfig cfg, QueueStore& store, Hub& hub,
         const TokenSigner& signer, metrics::Registry& metrics, dashboard::Dashboard& dash,
         WebhookJobStore* jobs = nullptr);
  ~Server();

  // Binds and starts accepting; returns the bound port. Throws on bind failure.
  uint16_t start();
  // At once: stops accepting, closes idle keep-alive connections, answers a request read only
  // in part (headers or body) with 503 and closes its connection, and tells every SSE stream to
  // retry elsewhere. Connections busy with a request finish it (under their deadlines), answer
  // with `Connection: close` and close.
  void stop();
  int64_t connections() const { return conns_->total(); }

 private:
  // A running session, seen by the sweeper (deadlines) and by stop() (idle keep-alives).
  struct Conn {
    boost::asio::ip::tcp::socket sock;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    bool idle = false;     // waiting for the first byte of a request
    bool reading = false;  // waiting for bytes of a request (idle or part-read)
  };
  // The connection loop (connection.cpp).
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> sweep_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket sock);
  // A connection refused by a limit may still ask /healthz or /readyz (probe overflow).
  void admit_probe(Conn& c);
  boost::asio::awaitable<bool> send(Conn& c, std::string_view bytes);
  boost::asio::awaitable<HttpResponse> serve(const HttpRequest& req, std::string_view peer,
                                             Takeover& takeover, bool& close);

  boost::asio::io_context& io_;
  ServerConfig cfg_;
  // (Registered in this order: /metrics lists a family's series together.)
  metrics::Counter& m_requests_;
  metrics::Counter& m_joins_;
  metrics::Counter& m_rej_rate_;
  metrics::Counter& m_rej_conn_;
  metrics::Counter& m_rej_body_;
  metrics::Counter& m_rej_header_;
  metrics::Counter& m_rej_streams_;
  metrics::Counter& m_bad_requests_;
  metrics::Counter& m_verify_ok_;
  metrics::Counter& m_verify_refused_;
  metrics::Counter& m_probes_overflow_;
  // Responses written, by class: [0] 2xx ... [3] 5xx (http_responses_total{code}). Every
  // response counts, the takeovers' 200 and the connection loop's own errors included.
  metrics::Counter* m_responses_[4];
  void count_response(unsigned status);
  std::unique_ptr<Edge> edge_;  // what the handlers use (handlers.hpp)
  boost::asio::ip::tcp::acceptor acceptor_;
  // Shared with the hub's streams, which give their connection's slot back when they end, maybe
  // after the server is gone.
  std::shared_ptr<ConnectionLimiter> conns_;
  std::unordered_set<Conn*> live_;  // sessions running (not event streams: the hub has those)
  // Connections beyond the limits that may still ask a health probe, until their request has
  // arrived (then they are served and closed). At most kProbePool: the oldest makes room.
  std::unordered_set<Conn*> probes_;
  // The accept loop (cancelled by stop()) and the deadline sweeper (which outlives stop() while
  // sessions drain; cancelled by the destructor). Sessions are not in a group: stop() lets them
  // finish their request, and the server outlives them (see the header comment).
  async::TaskGroup accepting_;
  async::TaskGroup sweeping_;

};

// The waiting-room page (web/index.html, embedded at build time) for queue `q`.
std::string render_page(std::string_view q);

}  // namespace anteroom::http
