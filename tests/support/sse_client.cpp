#include "support/sse_client.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <system_error>

namespace anteroom::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

boost::json::value SseEvent::Json() const {
  error_code ec;
  boost::json::value v = boost::json::parse(data, ec);
  if (ec) {
    ADD_FAILURE() << "SSE data is not JSON (" << ec.message() << "): " << Describe();
    return nullptr;
  }
  return v;
}

std::string SseEvent::Describe() const {
  std::string s = "{id: '" + id + "', event: '" + event + "', data: '" + data + "'";
  if (retry) s += ", retry: " + std::to_string(*retry);
  return s + "}";
}

SseClient::SseClient(std::uint16_t port, std::string_view target,
                     std::optional<std::string> last_event_id, Deadline deadline,
                     const Headers& extra_headers)
    : socket_("127.0.0.1", port, deadline) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  req.set(http::field::accept, "text/event-stream");
  req.set(http::field::cache_control, "no-cache");
  if (last_event_id) req.set("Last-Event-ID", *last_event_id);
  for (const auto& [name, value] : extra_headers) req.set(name, value);
  error_code ec = socket_.Run(
      [&](auto handler) { http::async_write(socket_.socket(), req, std::move(handler)); },
      deadline);
  if (ec) throw std::system_error(ec, "SSE request " + std::string(target));

  parser_.body_limit(boost::none);
  ec = socket_.Run(
      [&](auto handler) {
        http::async_read_header(socket_.socket(), socket_.buffer(), parser_, std::move(handler));
      },
      deadline);
  if (ec) throw std::system_error(ec, "SSE response head for " + std::string(target));
  status_ = static_cast<int>(parser_.get().result_int());
  if (status_ != 200) {
    is_event_stream_ = false;
    while (ReadMore(deadline)) {
    }
    error_body_ = std::move(raw_);
    raw_.clear();
    pending_.clear();
    ready_.clear();
  }
}

SseClient::~SseClient() { Close(); }

void SseClient::Close() {
  closed_ = true;
  socket_.Close();
}

std::string SseClient::Header(std::string_view name) const {
  auto it = parser_.get().find(name);
  return it == parser_.get().end() ? std::string() : std::string(it->value());
}

bool SseClient::ReadMore(Deadline deadline) {
  if (closed_) return false;
  if (parser_.is_done()) {
    closed_ = true;
    return false;
  }
  char buf[8192];
  parser_.get().body().data = buf;
  parser_.get().body().size = sizeof buf;
  error_code ec = socket_.Run(
      [&](auto handler) {
        http::async_read_some(socket_.socket(), socket_.buffer(), parser_, std::move(handler));
      },
      deadline);
  if (ec == http::error::need_buffer) ec = {};
  std::size_t n = sizeof buf - parser_.get().body().size;
  if (n > 0) Parse(std::string_view(buf, n));
  if (ec == asio::error::timed_out || ec == asio::error::operation_aborted) return false;
  if (ec || parser_.is_done()) {
    // end_of_stream, eof, reset, partial_message: the server ended the stream.
    closed_ = true;
    socket_.Close();
    return n > 0;
  }
  return true;
}

void SseClient::Parse(std::string_view chunk) {
  raw_.append(chunk);
  if (!is_event_stream_) return;
  pending_.append(chunk);
  std::size_t start = 0;
  while (true) {
    std::size_t nl = pending_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(pending_.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    HandleLine(line);
    start = nl + 1;
  }
  pending_.erase(0, start);
}

void SseClient::HandleLine(std::string_view line) {
  if (line.empty()) {
    if (block_has_fields_) {
      if (block_.retry) retries_.push_back(*block_.retry);
      if (!block_.id.empty()) last_event_id_ = block_.id;
      if (!block_.event.empty() || !block_.data.empty()) {
        if (block_.event.empty()) block_.event = "message";
        block_.received = Clock::now();
        ready_.push_back(block_);
      }
    }
    block_ = SseEvent{};
    block_has_fields_ = false;
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  auto [name, value] = SplitSseField(line);
  block_has_fields_ = true;
  if (name == "id") {
    block_.id = value;
  } else if (name == "event") {
    block_.event = value;
  } else if (name == "data") {
    if (!block_.data.empty()) block_.data += '\n';
    block_.data += value;
  } else if (name == "retry") {
    int r = 0;
    auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), r);
    if (e == std::errc() && p == value.data() + value.size()) {
      block_.retry = r;
    } else {
      ADD_FAILURE() << "malformed SSE retry field: '" << line << "'";
    }
  } else {
    ADD_FAILURE() << "unknown SSE field: '" << line << "'";
  }
}

std::optional<SseEvent> SseClient::Next(Deadline deadline) {
  while (ready_.empty()) {
    if (!ReadMore(deadline) && ready_.empty()) return std::nullopt;
  }
  SseEvent e = std::move(ready_.front());
  ready_.pop_front();
  history_.push_back(e);
  return e;
}

std::optional<SseEvent> SseClient::WaitFor(std::string_view event, Deadline deadline) {
  return WaitFor([event](const SseEvent& e) { return e.event == event; }, deadline);
}

std::optional<SseEvent> SseClient::WaitFor(const std::function<bool(const SseEvent&)>& pred,
                                           Deadline deadline) {
  while (auto e = Next(deadline)) {
    if (pred(*e)) return e;
  }
  return std::nullopt;
}

bool SseClient::WaitClosed(Deadline deadline) {
  while (Next(deadline)) {
  }
  return closed_;
}

bool SseClient::WaitForComments(int n, Deadline deadline) {
  while (comments_ < n) {
    if (!ReadMore(deadline)) return comments_ >= n;
  }
  return true;
}

}  // namespace anteroom::testing
