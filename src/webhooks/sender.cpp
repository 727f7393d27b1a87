#include "webhooks/sender.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "webhooks/address_policy.hpp"

namespace anteroom {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

template <class Stream>
asio::awaitable<PostResult> exchange(Stream& s, beast::tcp_stream& tcp,
                                     http::request<http::string_body>& req,
                                     std::chrono::steady_clock::time_point deadline) {
  tcp.expires_at(deadline);
  auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
  if (wec) co_return PostResult{0, "write: " + wec.message()};
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);  // we only need the status; do not let a receiver flood us
  tcp.expires_at(deadline);
  auto [rec, rn] = co_await http::async_read(s, buf, parser, use_tuple);
  if (rec) co_return PostResult{0, "read: " + rec.message()};
  co_return PostResult{static_cast<int>(parser.get().result_int()), ""};
}

}  // namespace

asio::awaitable<PostResult> http_post(asio::ssl::context& tls, std::string url,
                                      std::vector<std::pair<std::string, std::string>> headers,
                                      std::string body, std::chrono::milliseconds timeout,
                                      bool allow_private) {
  auto u = boost::urls::parse_uri(url);
  if (!u) co_return PostResult{0, "bad url"};
  bool https = u->scheme() == "https";
  std::string host = u->host();
  std::string port = u->has_port() ? std::string(u->port()) : (https ? "443" : "80");
  std::string target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query()) target += "?" + std::string(u->encoded_query());

  auto ex = co_await asio::this_coro::executor;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  tcp::resolver resolver(ex);
  auto [rec, eps] = co_await resolver.async_resolve(host, port, use_tuple);
  if (rec) co_return PostResult{0, "resolve: " + rec.message()};
  // Checked on the resolved addresses, the ones connected to: a name may resolve anywhere.
  std::vector<tcp::endpoint> allowed;
  for (const auto& e : eps)
    if (allow_private || !is_non_public(e.endpoint().address())) allowed.push_back(e.endpoint());
  if (allowed.empty()) {
    std::string first = eps.empty() ? "" : eps.begin()->endpoint().address().to_string();
    co_return PostResult{0, "refused: " + host + " resolves to a non-public address (" + first +
                                "); --webhook-allow-private allows it", true};
  }

  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, host + (u->has_port() ? ":" + port : ""));
  req.set(http::field::user_agent, "anteroom-webhooks/1");
  req.set(http::field::content_type, "application/json");
  for (auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.keep_alive(false);
  req.prepare_payload();

  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  auto [cec, ep] = co_await stream.async_connect(allowed, use_tuple);
  if (cec) co_return PostResult{0, "connect: " + cec.message()};
  if (!https) co_return co_await exchange(stream, stream, req, deadline);

  asio::ssl::stream<beast::tcp_stream&> tls_stream(stream, tls);
  SSL_set_tlsext_host_name(tls_stream.native_handle(), host.c_str());
  tls_stream.set_verify_callback(asio::ssl::host_name_verification(host));
  auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
  if (hec) co_return PostResult{0, "tls: " + hec.message()};
  co_return co_await exchange(tls_stream, stream, req, deadline);
}

}  // namespace anteroom
