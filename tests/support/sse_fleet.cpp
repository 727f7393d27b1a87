#include "support/sse_fleet.hpp"

#include "support/sse_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

namespace anteroom::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

std::string StreamView::State() const {
  if (!last) return "";
  if (last->event == "position") return "waiting";
  if (last->event == "admitted") return "active";
  if (last->event == "ended") return "ended";
  return last->event;
}

struct SseFleet::Conn {
  Id id;
  std::uint16_t port;
  std::string target;
  std::optional<std::string> last_event_id;
  tcp::socket socket;
  std::string source;  // local address to connect from; "" = any
  Conn(Id i, std::uint16_t p, std::string t, std::optional<std::string> l, asio::io_context& io)
      : id(i), port(p), target(std::move(t)), last_event_id(std::move(l)), socket(io) {}
};

SseFleet::SseFleet() {
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

SseFleet::~SseFleet() {
  asio::post(io_, [this] {
    std::lock_guard lock(mu_);
    for (auto& c : conns_) {
      boost::system::error_code ec;
      c->socket.close(ec);
    }
  });
  // Let every stream's coroutine see its socket closed and finish.
  auto deadline = DeadlineIn(std::chrono::seconds(10));
  while (running_.load() > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  io_.stop();
  thread_.join();
}

SseFleet::Id SseFleet::Open(std::uint16_t port, const std::string& queue, const std::string& ticket,
                            std::optional<std::string> last_event_id) {
  return OpenFrom({}, port, queue, ticket, std::move(last_event_id));
}

SseFleet::Id SseFleet::OpenFrom(const std::string& source, std::uint16_t port,
                                const std::string& queue, const std::string& ticket,
                                std::optional<std::string> last_event_id) {
  std::shared_ptr<Conn> c;
  {
    std::lock_guard lock(mu_);
    Id id = views_.size();
    StreamView& v = views_.emplace_back();
    v.port = port;
    v.queue = queue;
    v.ticket = ticket;
    v.sent_last_event_id = last_event_id;
    v.opened = Clock::now();
    c = std::make_shared<Conn>(id, port, "/v1/queues/" + queue + "/tickets/" + ticket + "/events",
                               std::move(last_event_id), io_);
    c->source = source;
    conns_.push_back(c);
    ++version_;
  }
  ++running_;
  asio::post(io_, [this, c] { Start(c); });
  return c->id;
}

void SseFleet::Close(Id id) {
  std::shared_ptr<Conn> c;
  {
    std::lock_guard lock(mu_);
    if (id >= conns_.size()) return;
    c = conns_[id];
  }
  asio::post(io_, [c] {
    boost::system::error_code ec;
    c->socket.close(ec);
  });
}

std::size_t SseFleet::size() const {
  std::lock_guard lock(mu_);
  return views_.size();
}

StreamView SseFleet::Get(Id id) const {
  std::lock_guard lock(mu_);
  return views_.at(id);
}

void SseFleet::With(const std::function<void(const std::deque<StreamView>&)>& fn) const {
  std::lock_guard lock(mu_);
  fn(views_);
}

bool SseFleet::WaitUntil(const std::function<bool(const std::deque<StreamView>&)>& pred,
                         Deadline deadline, std::chrono::milliseconds interval) const {
  std::unique_lock lock(mu_);
  std::uint64_t seen = version_;
  while (true) {
    seen = version_;
    if (pred(views_)) return true;
    if (Clock::now() >= deadline) return false;
    // Wait for a change, then at least `interval` before evaluating again.
    cv_.wait_until(lock, deadline, [&] { return version_ != seen; });
    lock.unlock();
    std::this_thread::sleep_for(interval);
    lock.lock();
  }
}

void SseFleet::OnLine(Id id, std::string_view line, SseFrame& block, bool& has_fields) {
  StreamView& v = views_[id];
  if (line.empty()) {
    if (has_fields && !block.event.empty()) {
      block.received = Clock::now();
      ++v.events;
      if (!block.id.empty()) v.last_id = block.id;
      if (!v.first) v.first = block;
      v.first_of.try_emplace(block.event, block);
      if (block.event == "position") {
        boost::system::error_code ec;
        auto j = boost::json::parse(block.data, ec);
        if (!ec && j.is_object()) {
          if (auto* p = j.as_object().if_contains("position"); p && p->is_int64())
            v.position = p->as_int64();
        }
      } else if (block.event == "admitted") {
        ++v.admitted_count;
        if (!v.admitted) v.admitted = block;
      } else if (block.event == "ended") {
        if (!v.ended) v.ended = block;
      }
      v.last = block;
      ++version_;
      cv_.notify_all();
    }
    block = SseFrame{};
    has_fields = false;
    return;
  }
  if (line.front() == ':') {
    ++v.comments;
    ++version_;
    cv_.notify_all();
    return;
  }
  auto [name, value] = SplitSseField(line);
  has_fields = true;
  if (name == "id")
    block.id = value;
  else if (name == "event")
    block.event = value;
  else if (name == "data")
    block.data += (block.data.empty() ? "" : "\n") + std::string(value);
}

void SseFleet::Start(std::shared_ptr<Conn> c) {
  asio::co_spawn(
      io_,
      [this, c]() -> asio::awaitable<void> {
        auto fail = [&](std::string why) {
          std::lock_guard lock(mu_);
          StreamView& v = views_[c->id];
          if (!v.closed) {
            v.failure = std::move(why);
            v.closed = true;
            v.closed_at = Clock::now();
          }
          ++version_;
          cv_.notify_all();
        };
        auto tuple = asio::as_tuple(asio::use_awaitable);
        if (!c->source.empty()) {
          boost::system::error_code bec;
          c->socket.open(tcp::v4(), bec);
          if (!bec) c->socket.bind(tcp::endpoint(asio::ip::make_address(c->source), 0), bec);
          if (bec) {
            fail("bind to " + c->source + ": " + bec.message());
            co_return;
          }
        }
        auto [cec] = co_await c->socket.async_connect(
            tcp::endpoint(asio::ip::address_v4::loopback(), c->port), tuple);
        if (cec) {
          fail("connect: " + cec.message());
          co_return;
        }
        http::request<http::empty_body> req{http::verb::get, c->target, 11};
        req.set(http::field::host, "127.0.0.1:" + std::to_string(c->port));
        req.set(http::field::accept, "text/event-stream");
        if (c->last_event_id) req.set("Last-Event-ID", *c->last_event_id);
        auto [wec, wn] = co_await http::async_write(c->socket, req, tuple);
        if (wec) {
          fail("write: " + wec.message());
          co_return;
        }
        boost::beast::flat_buffer buffer;
        http::response_parser<http::buffer_body> parser;
        parser.body_limit(boost::none);
        auto [hec, hn] = co_await http::async_read_header(c->socket, buffer, parser, tuple);
        if (hec) {
          fail("read head: " + hec.message());
          co_return;
        }
        int status = static_cast<int>(parser.get().result_int());
        {
          std::lock_guard lock(mu_);
          views_[c->id].status = status;
          ++version_;
          cv_.notify_all();
        }
        std::string pending, error_body;
        SseFrame block;
        bool has_fields = false;
        char tmp[8192];
        while (true) {
          parser.get().body().data = tmp;
          parser.get().body().size = sizeof tmp;
          auto [ec, n] = co_await http::async_read_some(c->socket, buffer, parser, tuple);
          if (ec == http::error::need_buffer) ec = {};
          std::size_t got = sizeof tmp - parser.get().body().size;
          if (got > 0) {
            std::lock_guard lock(mu_);
            if (status != 200) {
              error_body.append(tmp, got);
            } else {
              pending.append(tmp, got);
              std::size_t start = 0, nl;
              while ((nl = pending.find('\n', start)) != std::string::npos) {
                std::string_view line(pending.data() + start, nl - start);
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                OnLine(c->id, line, block, has_fields);
                start = nl + 1;
              }
              pending.erase(0, start);
            }
          }
          if (ec || parser.is_done()) break;
        }
        std::lock_guard lock(mu_);
        StreamView& v = views_[c->id];
        v.error_body = std::move(error_body);
        v.closed = true;
        v.closed_at = Clock::now();
        ++version_;
        cv_.notify_all();
      },
      [this](std::exception_ptr) { --running_; });
}

}  // namespace anteroom::testing
