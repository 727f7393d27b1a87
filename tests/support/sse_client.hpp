// A Server-Sent Events client for end-to-end tests: opens one `text/event-stream` response and
// parses it incrementally (any transfer encoding; CRLF or LF line ends).
//
// Events are returned in order by Next()/WaitFor(). Blocks that carry only `retry:` are not
// returned as events but recorded in retries(); comment lines (": hb") are counted.
// Failure: connect/I/O errors other than the server closing throw std::system_error; the server
// closing the stream is a normal outcome reported by closed().
// Thread safety: one object per thread.
#pragma once

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"

namespace anteroom::testing {

// One event-stream line "name: value" split per the SSE spec (one optional space after the
// colon; no colon: the whole line is the name).
inline std::pair<std::string_view, std::string_view> SplitSseField(std::string_view line) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return {line, {}};
  std::string_view value = line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return {line.substr(0, colon), value};
}

struct SseEvent {
  std::string id;     // the block's `id:` field, "" if none
  std::string event;  // the block's `event:` field, "message" if it had only data
  std::string data;   // data lines joined by '\n'
  std::optional<int> retry;
  Clock::time_point received;  // when the client parsed the block's end

  // `data` parsed as JSON; records a GoogleTest failure and returns null if it is not JSON.
  boost::json::value Json() const;
  std::string Describe() const;
};

class SseClient {
 public:
  // Sends `GET target` with `Accept: text/event-stream` (and `Last-Event-ID` if given) and reads
  // the response head. If the status is not 200 the body is read whole into error_body().
  SseClient(std::uint16_t port, std::string_view target,
            std::optional<std::string> last_event_id = std::nullopt,
            Deadline deadline = DeadlineIn(kPatience), const Headers& extra_headers = {});
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  int status() const { return status_; }
  std::string Header(std::string_view name) const;
  const std::string& error_body() const { return error_body_; }

  // The next event, or nullopt at the deadline or once the server has closed the stream
  // (see closed()).
  std::optional<SseEvent> Next(Deadline deadline = DeadlineIn(kPatience));
  // Skips events until one named `event` arrives (or the predicate holds). nullopt at the
  // deadline or on close; skipped events stay in history().
  std::optional<SseEvent> WaitFor(std::string_view event,
                                  Deadline deadline = DeadlineIn(kPatience));
  std::optional<SseEvent> WaitFor(const std::function<bool(const SseEvent&)>& pred,
                                  Deadline deadline = DeadlineIn(kPatience));
  // Reads (and records) events until the server closes the stream. False at the deadline.
  bool WaitClosed(Deadline deadline = DeadlineIn(kPatience));

  // Waits until at least `n` comment lines have been received in total.
  bool WaitForComments(int n, Deadline deadline = DeadlineIn(kPatience));

  bool closed() const { return closed_; }
  // Every event returned so far, in order.
  const std::vector<SseEvent>& history() const { return history_; }
  // Every `retry:` value received, in order.
  const std::vector<int>& retries() const { return retries_; }
  int comments() const { return comments_; }
  // The `id:` of the most recent event that had one.
  const std::string& last_event_id() const { return last_event_id_; }
  // Everything received on the stream so far (for failure messages).
  const std::string& raw() const { return raw_; }

  // Closes the connection from the client side (a visitor closing the tab).
  void Close();

 private:
  // Reads more body bytes and parses them; false on timeout or close.
  bool ReadMore(Deadline deadline);
  void Parse(std::string_view chunk);
  void HandleLine(std::string_view line);

  detail::BlockingSocket socket_;
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
  int status_ = 0;
  std::string error_body_;
  bool closed_ = false;
  bool is_event_stream_ = true;  // false: the body is an error document, not parsed as SSE

  std::string pending_;  // bytes after the last complete line
  SseEvent block_;       // fields of the block being parsed
  bool block_has_fields_ = false;
  std::deque<SseEvent> ready_;
  std::vector<SseEvent> history_;
  std::vector<int> retries_;
  int comments_ = 0;
  std::string last_event_id_;
  std::string raw_;
};

}  // namespace anteroom::testing
