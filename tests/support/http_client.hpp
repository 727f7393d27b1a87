// Blocking HTTP/1.1 clients for end-to-end tests, built on Boost.Beast.
//
// Every operation takes a deadline; nothing blocks forever. I/O failures and timeouts throw
// std::system_error (a timeout has code boost::asio::error::timed_out), which GoogleTest reports
// as a test failure with the message. A non-2xx status is NOT an error: it is returned for the
// test to assert on.
// Thread safety: one object per thread; different objects are independent.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/process.hpp"

namespace anteroom::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  boost::beast::http::fields headers;
  std::string body;

  // Value of the first header called `name` (case-insensitive); "" if absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  // The body parsed as JSON. On a parse error records a GoogleTest failure (with the body) and
  // returns null, so assertions on fields fail readably instead of throwing.
  boost::json::value Json() const;
  // The "error" field of a JSON error body, or "" if the body is not such an object.
  std::string ErrorCode() const;
  // One line for failure messages: status, content type and (truncated) body.
  std::string Describe() const;
};

// Prints the response in GoogleTest failure messages.
std::ostream& operator<<(std::ostream& os, const HttpResponse& r);

namespace detail {

// A TCP connection whose blocking operations are asynchronous operations run on a private
// io_context until a deadline; on timeout the socket is closed.
class BlockingSocket {
 public:
  // Connects (from the local address `source` if given, e.g. "127.0.0.7": another client as the
  // server sees it); throws std::system_error on failure or timeout.
  BlockingSocket(const std::string& host, std::uint16_t port, Deadline deadline,
                 const std::string& source = {});

  // Starts `op(handler)` (handler: void(error_code, size_t)) and runs until it completes or the
  // deadline passes. Returns the operation's error, or asio::error::timed_out after cancelling
  // the operation (bytes already received stay in buffer(); an SSE stream can be read on).
  template <class Op>
  boost::system::error_code Run(Op&& op, Deadline deadline, std::size_t* bytes = nullptr);

  boost::asio::ip::tcp::socket& socket() { return socket_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }
  void Close();

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

template <class Op>
boost::system::error_code BlockingSocket::Run(Op&& op, Deadline deadline, std::size_t* bytes) {
  boost::system::error_code result;
  bool done = false;
  op([&](boost::system::error_code ec, std::size_t n) {
    result = ec;
    done = true;
    if (bytes != nullptr) *bytes = n;
  });
  ioc_.restart();
  ioc_.run_until(deadline);
  if (!done) {
    boost::system::error_code ignored;
    socket_.cancel(ignored);  // completes the pending operation with operation_aborted
    ioc_.restart();
    ioc_.run();
    return boost::asio::error::timed_out;
  }
  return result;
}

}  // namespace detail

// One kept-alive connection: several requests in sequence, or raw bytes for malformed input.
class HttpConnection {
 public:
  // Connects at once; throws std::system_error if the connection cannot be established.
  // `source`: the local address to connect from (any 127.0.0.x is this machine), "" = any.
  explicit HttpConnection(std::uint16_t port, Deadline deadline = DeadlineIn(kPatience),
                          std::string host = "127.0.0.1", const std::string& source = {});

  // Sends a request (Host and Content-Length are added unless given) and reads the response.
  HttpResponse Request(std::string_view method, std::string_view target,
                       const Headers& headers = {}, std::string body = {},
                       Deadline deadline = DeadlineIn(kPatience));

  // Writes bytes as they are.
  void WriteRaw(std::string_view bytes, Deadline deadline = DeadlineIn(kPatience));
  // Reads one response (`head`: the answer to a HEAD, headers only). Returns nullopt if the
  // server closed the connection (EOF) before sending a single byte; throws on a reset, a
  // timeout or bytes that are not HTTP.
  std::optional<HttpResponse> ReadResponse(Deadline deadline = DeadlineIn(kPatience),
                                           bool head = false);
  // Reads and discards until the server closes the connection (EOF or reset). False at the
  // deadline.
  bool WaitClosed(Deadline deadline = DeadlineIn(kPatience));
  void Close() { socket_.Close(); }

 private:
  std::string host_;
  detail::BlockingSocket socket_;
};

// A client that opens a fresh connection per request: the simplest model of independent
// visitors.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1")
      : port_(port), host_(std::move(host)) {}

  HttpResponse Request(std::string_view method, std::string_view target,
                       const Headers& headers = {}, std::string body = {},
                       Deadline deadline = DeadlineIn(kPatience)) const;
  HttpResponse Get(std::string_view target, const Headers& headers = {}) const {
    return Request("GET", target, headers);
  }

  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_;
  std::string host_;
};

}  // namespace anteroom::testing
