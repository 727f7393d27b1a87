// Many visitors' event streams at once, for tests where hundreds or thousands of visitors hold a
// stream (SseClient is one blocking stream per thread). One background thread drives every
// stream asynchronously and keeps, per stream, a summary of what the visitor has been shown:
// the first and latest event, the latest position, the `admitted` and `ended` events.
//
// Lifetime: the destructor closes every stream and joins the thread.
// Thread safety: every member function may be called from any thread. Views are copies, or are
// read inside With() under the fleet's lock (keep that callback short).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/process.hpp"

namespace anteroom::testing {

struct SseFrame {
  std::string id;
  std::string event;
  std::string data;
  Clock::time_point received;
};

// What one visitor's stream has shown so far.
struct StreamView {
  std::uint16_t port = 0;
  std::string queue, ticket;
  std::optional<std::string> sent_last_event_id;
  Clock::time_point opened;  // when Open() was called
  int status = 0;            // HTTP status; 0 until the response head arrived
  std::string error_body;    // the body of a non-200 answer
  std::string failure;       // connect or I/O failure (not a normal end of stream)
  bool closed = false;       // the stream is over (server ended it, failure, or Close())
  Clock::time_point closed_at;
  int events = 0;
  int comments = 0;
  std::optional<SseFrame> first;      // the first event (the state sent on connect)
  std::optional<SseFrame> last;       // the latest event
  std::optional<long long> position;  // from the latest `position` event
  std::optional<SseFrame> admitted;   // the first `admitted` event
  int admitted_count = 0;
  std::optional<SseFrame> ended;
  std::map<std::string, SseFrame> first_of;  // the first event of each type (e.g. `drawn`)
  std::string last_id;                       // `id:` of the latest event that had one

  // "waiting", "active", "ended" from the latest event; "" before the first.
  std::string State() const;
};

class SseFleet {
 public:
  using Id = std::size_t;

  SseFleet();
  ~SseFleet();
  SseFleet(const SseFleet&) = delete;
  SseFleet& operator=(const SseFleet&) = delete;

  // Starts `GET /v1/queues/{queue}/tickets/{ticket}/events` on 127.0.0.1:port (asynchronously;
  // the view fills in as the stream runs).
  Id Open(std::uint16_t port, const std::string& queue, const std::string& ticket,
          std::optional<std::string> last_event_id = std::nullopt);
  // The same from the local address `source` (e.g. "127.0.0.7": another client as the server
  // sees it).
  Id OpenFrom(const std::string& source, std::uint16_t port, const std::string& queue,
              const std::string& ticket, std::optional<std::string> last_event_id = std::nullopt);
  // Closes the stream from the client side.
  void Close(Id id);

  std::size_t size() const;
  StreamView Get(Id id) const;
  // Calls fn(views) under the lock; views[id] is stream `id`.
  void With(const std::function<void(const std::deque<StreamView>&)>& fn) const;
  // Polls `pred` (under the lock) whenever a stream changed, at most every `interval`, until it
  // holds or the deadline passes. Returns its last value.
  bool WaitUntil(const std::function<bool(const std::deque<StreamView>&)>& pred, Deadline deadline,
                 std::chrono::milliseconds interval = std::chrono::milliseconds(20)) const;

 private:
  struct Conn;
  void Start(std::shared_ptr<Conn> c);
  void OnLine(Id id, std::string_view line, SseFrame& block, bool& has_fields);

  boost::asio::io_context io_;
  std::thread thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::uint64_t version_ = 0;  // bumped on every change
  std::deque<StreamView> views_;
  std::deque<std::shared_ptr<Conn>> conns_;
  std::atomic<int> running_{0};
};

}  // namespace anteroom::testing
