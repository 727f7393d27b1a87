#pragma once
// The HTTP/1.1 edge: accepts connections, enforces limits, routes the v1 API, serves the page,
// and hands event streams to the hub. One coroutine per connection; HTTP/1.1 by hand (wire.hpp).
//
// Threading: runs on the io_context given; not thread-safe. Lifetime: must outlive its
// connections; call stop() and let the io_context drain before destroying.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "http/limits.hpp"
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
  double join_rate_per_ip = 20;  // joins per second per client address; 0 = unlimited
  double join_burst_per_ip = 40;
  bool trust_proxy = false;  // take the client address from X-Real-IP / X-Forwarded-For
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds write_timeout{30};
  std::chrono::milliseconds sse_retry{2000};
};

class Server {
 public:
  // `jobs` (may be null): the webhook job store behind the dead-letter endpoints.
  Server(boost::asio::io_context& io, ServerConfig cfg, QueueStore& store, Hub& hub,
         const TokenSigner& signer, metrics::Registry& metrics, WebhookJobStore* jobs = nullptr);
  ~Server();

  // Binds and starts accepting; returns the bound port. Throws on bind failure.
  uint16_t start();
  // Stops accepting, closes idle keep-alive connections, and tells every SSE stream to retry
  // elsewhere. Connections finish what they are doing.
  void stop();
  int64_t connections() const { return conns_.total(); }


 private:
  struct Request;
  struct Conn;
  using Response = HttpResponse;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> sweep_loop();
  boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket sock);
  boost::asio::awaitable<bool> send(Conn& c, std::string_view bytes);
  boost::asio::awaitable<Response> handle(Request& r);
  boost::asio::awaitable<bool> serve_events(Conn& c, Request& r,
                                            std::string q, std::string t,
                                            std::function<void()> on_detach);

  boost::asio::awaitable<Response> join(Request& r, const std::string& q);
  boost::asio::awaitable<Response> ticket_status(Request& r, const std::string& q,
                                                 const std::string& t, int method);
  boost::asio::awaitable<Response> complete(Request& r, const std::string& q,
                                            const std::string& t);
  boost::asio::awaitable<Response> verify(Request& r);
  boost::asio::awaitable<Response> put_queue(Request& r, const std::string& q);
  boost::asio::awaitable<Response> queues(Request& r, const std::string& q, int method);
  boost::asio::awaitable<Response> dead_letters(Request& r, const std::string& q, bool redrive);
  Response page(Request& r, const std::string& q);
  Response metrics_text(Request& r);
  boost::asio::awaitable<std::string> ticket_json(const Ticket& t);
  std::string queue_json(const QueueInfo& i);

  boost::asio::io_context& io_;
  ServerConfig cfg_;
  QueueStore& store_;
  Hub& hub_;
  const TokenSigner& signer_;
  metrics::Registry& metrics_;
  WebhookJobStore* jobs_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer sweeper_;
  ConnectionLimiter conns_;
  RateLimiter join_limiter_;
  std::unordered_set<Conn*> live_;  // sessions running (not event streams: the hub has those)
  bool stopping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  metrics::Counter& m_requests_;
  metrics::Counter& m_joins_;
  metrics::Counter& m_rej_rate_;
  metrics::Counter& m_rej_conn_;
  metrics::Counter& m_rej_body_;
  metrics::Counter& m_rej_header_;
  metrics::Counter& m_bad_requests_;
  metrics::Counter& m_verify_ok_;
  metrics::Counter& m_verify_refused_;
};

// The waiting-room page (web/index.html, embedded at build time) for queue `q`.
std::string render_page(std::string_view q);

}  // namespace anteroom::http
