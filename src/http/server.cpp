#include "http/server.hpp"

#include <algorithm>

#include "http/handlers.hpp"
#include "pow/challenge.hpp"

namespace anteroom::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

int64_t ServerConfig::stream_cap() const {
  int64_t reserve =
      conn_reserve > 0 ? conn_reserve
                       : std::min(std::max<int64_t>(64, max_connections / 20), max_connections / 2);
  return std::max<int64_t>(1, max_connections - reserve);
}

PowProbe::PowProbe(metrics::Registry& m)
    : challenges(m.counter("pow_challenges_total", "Proof-of-work challenges minted")),
      bits(m.histogram("pow_bits", "Bits of each proof-of-work challenge minted",
                       {0, 4, 8, 12, 14, 16, 18, 20, 22, 24, 26, 28, 32})),
      verified(m.counter("pow_verified_total", "Joins whose proof of work the store accepted")),
      refused{},
      invite_joins(m.counter("invite_joins_total", "Tickets created with an invite code")),
      invite_refused{} {
  static constexpr const char* kPow[] = {"required", "invalid", "wrong_queue",
                                         "expired", "insufficient", "used"};
  for (int i = 0; i < 6; ++i)
    refused[i] = &m.counter("pow_refused_total", "Joins refused for their proof of work",
                            std::string("reason=\"") + kPow[i] + "\"");
  static constexpr const char* kInvite[] = {"required", "invalid", "used_up", "expired",
                                            "revoked"};
  for (int i = 0; i < 5; ++i)
    invite_refused[i] = &m.counter("invite_refused_total", "Joins refused for their invite code",
                                   std::string("reason=\"") + kInvite[i] + "\"");
}

Server::Server(asio::io_context& io, ServerConfig cfg, QueueStore& store, Hub& hub,
               const TokenSigner& signer, metrics::Registry& m, dashboard::Dashboard& dash,
               WebhookJobStore* jobs)
    : io_(io),
      cfg_(std::move(cfg)),
      m_requests_(m.counter("http_requests_total", "HTTP requests handled")),
      m_joins_(m.counter("joins_total", "Tickets created by joins")),
      m_rej_rate_(
          m.counter("http_rejected_total", "Requests refused by a limit", "reason=\"join_rate\"")),
      m_rej_conn_(m.counter("http_rejected_total", "Requests refused by a limit",
                            "reason=\"connections\"")),
      m_rej_body_(
          m.counter("http_rejected_total", "Requests refused by a limit", "reason=\"body_size\"")),
      m_rej_header_(m.counter("http_rejected_total", "Requests refused by a limit",
                              "reason=\"header_size\"")),
      m_rej_streams_(
          m.counter("http_rejected_total", "Requests refused by a limit", "reason=\"streams\"")),
      m_bad_requests_(m.counter("http_bad_requests_total", "Requests answered with a 4xx")),
      m_verify_ok_(m.counter("verify_total", "Token verifications", "result=\"ok\"")),
      m_verify_refused_(m.counter("verify_total", "Token verifications", "result=\"refused\"")),
      m_probes_overflow_(m.counter("http_probe_overflow_total",
                                   "Health probes answered on connections beyond the limits")),
      edge_(
          new Edge{cfg_, store, hub, signer, m, dash, jobs,
                   RateLimiter(cfg_.join_rate_per_ip, cfg_.join_burst_per_ip, cfg_.ipv6_prefix_len),
                   /*stopping=*/false, m_joins_, m_rej_rate_, m_verify_ok_, m_verify_refused_,
                   m.counter("joins_refused_total", "Joins refused by the queue's schedule or mode",
                             "reason=\"not_open_yet\""),
                   m.counter("joins_refused_total", "Joins refused by the queue's schedule or mode",
                             "reason=\"joins_refused\""),
                   m.counter("joins_refused_total", "Joins refused by the queue's schedule or mode",
                             "reason=\"queue_closed\""),
                   m.counter("draw_pages_total", "Pages of a queue's draw served"),
                   pow::derive_key(signer.secret()), PowProbe(m)}),
      acceptor_(io),
      conns_(std::make_shared<ConnectionLimiter>(cfg_.max_connections, cfg_.max_conns_per_ip,
                                                 cfg_.stream_cap(), cfg_.ipv6_prefix_len)),
      accepting_(io.get_executor()),
      sweeping_(io.get_executor()) {
  static constexpr const char* kClasses[] = {"2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 4; ++i)
    m_responses_[i] = &m.counter("http_responses_total", "HTTP responses written, by status class",
                                 std::string("code=\"") + kClasses[i] + "\"");
  m.gauge_fn("http_connections", "Open HTTP connections",
             [conns = conns_] { return double(conns->total()); });
  m.gauge_fn("http_event_streams", "Open connections that are event streams",
             [conns = conns_] { return double(conns->streams()); });
  if (cfg_.trust_proxy && cfg_.proxy.hops == 0) cfg_.proxy.hops = 1;
}

void Server::count_response(unsigned status) {
  if (status >= 200 && status < 600) m_responses_[status / 100 - 2]->inc();
}

Server::~Server() = default;  // the task groups cancel whatever still runs

uint16_t Server::start() {
  tcp::endpoint ep(asio::ip::make_address(cfg_.host), cfg_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  accepting_.spawn(accept_loop());
  sweeping_.spawn(sweep_loop());
  return acceptor_.local_endpoint().port();
}

void Server::stop() {
  edge_->stopping = true;
  accepting_.stop();
  boost::system::error_code ec;
  acceptor_.close(ec);
  // A part-read request's read is cancelled rather than its socket closed: its session answers
  // 503 before closing (connection.cpp).
  for (auto* c : live_) {
    if (c->idle) {
      c->sock.close(ec);
    } else if (c->reading) {
      c->sock.cancel(ec);
    }
  }
  edge_->hub.shutdown(std::chrono::milliseconds(1000));
}

}  // namespace anteroom::http
