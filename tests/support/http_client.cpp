#include "support/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <ostream>
#include <system_error>

namespace anteroom::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

void ThrowIf(error_code ec, const std::string& what) {
  if (ec) throw std::system_error(ec, what);
}

HttpResponse ToResponse(http::response<http::string_body>&& msg) {
  HttpResponse r;
  r.status = static_cast<int>(msg.result_int());
  for (const auto& f : msg.base()) r.headers.insert(f.name_string(), f.value());
  r.body = std::move(msg.body());
  return r;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : std::string(it->value());
}

bool HttpResponse::HasHeader(std::string_view name) const {
  return headers.find(name) != headers.end();
}

boost::json::value HttpResponse::Json() const {
  error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) {
    ADD_FAILURE() << "response body is not JSON (" << ec.message() << "): " << Describe();
    return nullptr;
  }
  return v;
}

std::string HttpResponse::ErrorCode() const {
  error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const auto* e = v.as_object().if_contains("error");
  if (e == nullptr || !e->is_string()) return "";
  return std::string(e->as_string());
}

std::string HttpResponse::Describe() const {
  std::string b = body.size() > 600 ? body.substr(0, 600) + "..." : body;
  return "HTTP " + std::to_string(status) + " [" + Header("Content-Type") + "] " + b;
}

std::ostream& operator<<(std::ostream& os, const HttpResponse& r) { return os << r.Describe(); }

namespace detail {

BlockingSocket::BlockingSocket(const std::string& host, std::uint16_t port, Deadline deadline,
                               const std::string& source)
    : socket_(ioc_) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  if (!source.empty()) {
    error_code ec;
    socket_.open(ep.protocol(), ec);
    if (!ec) socket_.bind(tcp::endpoint(asio::ip::make_address(source), 0), ec);
    ThrowIf(ec, "bind to " + source);
  }
  error_code ec = Run(
      [&](auto handler) {
        socket_.async_connect(ep, [handler](error_code e) mutable { handler(e, 0); });
      },
      deadline);
  ThrowIf(ec, "connect to " + host + ":" + std::to_string(port));
  socket_.set_option(tcp::no_delay(true), ec);
}

void BlockingSocket::Close() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace detail

HttpConnection::HttpConnection(std::uint16_t port, Deadline deadline, std::string host,
                               const std::string& source)
    : host_(host + ":" + std::to_string(port)), socket_(host, port, deadline, source) {}

HttpResponse HttpConnection::Request(std::string_view method, std::string_view target,
                                     const Headers& headers, std::string body, Deadline deadline) {
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  bool has_host = false, has_length = false;
  for (const auto& [name, value] : headers) {
    if (boost::beast::iequals(name, "Host")) has_host = true;
    if (boost::beast::iequals(name, "Content-Length") ||
        boost::beast::iequals(name, "Transfer-Encoding")) {
      has_length = true;  // the caller frames the body itself
    }
    req.insert(name, value);
  }
  if (!has_host) req.set(http::field::host, host_);
  req.body() = std::move(body);
  if (!has_length && (!req.body().empty() || method == "POST" || method == "PUT")) {
    req.set(http::field::content_length, std::to_string(req.body().size()));
  }
  error_code ec = socket_.Run(
      [&](auto handler) { http::async_write(socket_.socket(), req, std::move(handler)); },
      deadline);
  ThrowIf(ec, "write " + std::string(method) + " " + std::string(target));
  auto resp = ReadResponse(deadline, method == "HEAD");
  if (!resp) {
    throw std::system_error(error_code(http::error::end_of_stream),
                            "server closed the connection without answering " +
                                std::string(method) + " " + std::string(target));
  }
  return std::move(*resp);
}

void HttpConnection::WriteRaw(std::string_view bytes, Deadline deadline) {
  error_code ec = socket_.Run(
      [&](auto handler) {
        asio::async_write(socket_.socket(), asio::buffer(bytes.data(), bytes.size()),
                          std::move(handler));
      },
      deadline);
  ThrowIf(ec, "raw write");
}

std::optional<HttpResponse> HttpConnection::ReadResponse(Deadline deadline, bool head) {
  http::response_parser<http::string_body> parser;
  parser.skip(head);  // a HEAD's answer has the body's length but not its bytes
  parser.body_limit(64 << 20);
  parser.header_limit(1 << 20);
  error_code ec = socket_.Run(
      [&](auto handler) {
        http::async_read(socket_.socket(), socket_.buffer(), parser, std::move(handler));
      },
      deadline);
  if (ec == http::error::end_of_stream) return std::nullopt;
  ThrowIf(ec, "read response");
  return ToResponse(parser.release());
}

bool HttpConnection::WaitClosed(Deadline deadline) {
  while (true) {
    char buf[4096];
    std::size_t n = 0;
    error_code ec = socket_.Run(
        [&](auto handler) {
          socket_.socket().async_read_some(asio::buffer(buf), std::move(handler));
        },
        deadline, &n);
    if (ec == asio::error::timed_out) return false;
    if (ec) return true;  // eof, reset, ...
  }
}

HttpResponse HttpClient::Request(std::string_view method, std::string_view target,
                                 const Headers& headers, std::string body,
                                 Deadline deadline) const {
  HttpConnection conn(port_, deadline, host_);
  return conn.Request(method, target, headers, std::move(body), deadline);
}

}  // namespace anteroom::testing
