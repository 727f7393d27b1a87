#include "pipeline/outbox_tailer.hpp"

#include <spdlog/spdlog.h>

#include "pipeline/slot_reads.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/outbox.hpp"

namespace anteroom {

namespace asio = boost::asio;

OutboxTailer::OutboxTailer(asio::io_context& io, redis::RedisOptions opts, EventSink& sink,
                           metrics::Registry& m, std::function<void()> on_reconnect,
                           std::function<void(const std::string&)> on_new_queue)
    : sink_(sink),
      on_reconnect_(std::move(on_reconnect)),
      on_new_queue_(std::move(on_new_queue)),
      tasks_(io.get_executor()),
      m_events_(m.counter("outbox_tail_events_total", "Events read from outbox streams")),
      m_errors_(m.counter("outbox_tail_errors_total", "Failed outbox reads")) {
  // XREAD BLOCK holds the connection for up to a second: give it its own, with patience.
  opts.command_timeout = std::chrono::milliseconds(5000);
  client_ = std::make_unique<redis::RedisClient>(io, opts);
}

OutboxTailer::~OutboxTailer() { stop(); }

void OutboxTailer::start() { tasks_.spawn(loop()); }

void OutboxTailer::stop() { tasks_.stop(); }

// The queues that exist when tailing begins start at their stream's current end: older events
// are covered by the hub's resync from the store (on a stream's open, or its first gap). A queue
// that appears later is read from the start of its outbox: it was created after we began, so
// all of its events are news, and skipping them would leave a stream opened in between without
// the events (an admission) that committed before this refresh found the queue, and without a
// gap to notice it by until the queue's next event.
asio::awaitable<void> OutboxTailer::refresh_queues() {
  // (GCC 12 cannot take braced string lists inside co_await: build argv first.)
  std::vector<std::string> smembers{"SMEMBERS", std::string(redis_keys::kQueues)};
  auto names = co_await client_->command(std::move(smembers));
  if (co_await async::cancelled()) co_return;
  if (!names || !names->is_array()) co_return;
  for (auto& n : names->elements) {
    if (last_id_.count(n.str)) continue;
    if (primed_) {
      last_id_[n.str] = "0-0";
      continue;
    }
    std::vector<std::string> argv{"XREVRANGE", redis_keys::outbox(n.str), "+", "-", "COUNT", "1"};
    auto last = co_await client_->command(std::move(argv));
    if (co_await async::cancelled()) co_return;
    if (!last || !last->is_array()) co_return;
    last_id_[n.str] = last->elements.empty() ? "0-0" : last->elements[0].elements[0].str;
    if (on_new_queue_) on_new_queue_(n.str);
  }
  primed_ = true;
}

asio::awaitable<void> OutboxTailer::loop() {
  uint64_t connects = 0;
  uint64_t refreshes = 0;
  auto next_refresh = std::chrono::steady_clock::now();
  for (bool more = true; more;) {  // not for (;;): GCC 12 loses `this` (see README)
    if (client_->stats().connects != connects) {
      bool again = connects != 0;
      connects = client_->stats().connects;
      if (again && on_reconnect_) on_reconnect_();
    }
    if (std::chrono::steady_clock::now() >= next_refresh) {
      co_await refresh_queues();
      if (co_await async::cancelled()) co_return;
      if (++refreshes % 20 == 0)
        for (auto& [q, _] : last_id_) {
          std::vector<std::string> argv{"XTRIM", redis_keys::outbox(q), "MAXLEN", "~",
                                        std::to_string(kKeep)};
          (void)co_await client_->command(std::move(argv));
          if (co_await async::cancelled()) co_return;
        }
      next_refresh = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    }
    if (last_id_.empty()) {
      bool slept = co_await async::sleep_for(std::chrono::milliseconds(200));
      if (!slept) co_return;
      continue;
    }
    // Standalone: one read of every outbox, with short blocks (new queues are noticed between
    // reads). Cluster: one read per slot that is due (slot_reads.hpp), all at once, none
    // blocking.
    std::vector<std::string> keys, ids;
    for (auto& [q, id] : last_id_) {
      keys.push_back(redis_keys::outbox(q));
      ids.push_back(id);
    }
    std::vector<int> slots, asked;
    std::vector<asio::awaitable<Result<redis::RedisReply>>> calls;
    const auto now = slot_reads::Clock::now();
    if (!client_->options().cluster) {
      calls.push_back(read(std::move(keys), std::move(ids), /*block=*/true));
    } else {
      for (auto& [slot, at] : slot_reads::by_slot(keys)) {
        slots.push_back(slot);
        if (!poll_.due(slot, now)) continue;
        std::vector<std::string> k, i;
        for (size_t x : at) {
          k.push_back(keys[x]);
          i.push_back(ids[x]);
        }
        asked.push_back(slot);
        calls.push_back(read(std::move(k), std::move(i), /*block=*/false));
      }
      poll_.keep_only(slots);
      if (calls.empty()) {
        auto at = std::min(poll_.next(slots, now), next_refresh);
        bool slept = co_await async::sleep_until(at);
        if (!slept) co_return;
        continue;
      }
    }
    auto replies = co_await slot_reads::all(tasks_, std::move(calls));
    if (co_await async::cancelled()) co_return;
    size_t failed = 0;
    const auto after = slot_reads::Clock::now();
    for (size_t x = 0; x < replies.size(); ++x) {
      auto& r = replies[x];
      size_t got = 0;
      if (!r || r->is_error()) {
        m_errors_.inc();
        ++failed;
      } else if (r->is_array()) {  // (nil: timed out with nothing new)
        got = hand_on(*r);
      }
      if (!asked.empty()) poll_.read(asked[x], got > 0, after);
    }
    if (failed > 0 && failed == replies.size()) {
      bool slept = co_await async::sleep_for(std::chrono::milliseconds(100));
      if (!slept) co_return;
    }
  }
}

asio::awaitable<Result<redis::RedisReply>> OutboxTailer::read(std::vector<std::string> keys,
                                                              std::vector<std::string> ids,
                                                              bool block) {
  auto argv = slot_reads::streams_argv({"XREAD", "COUNT", "1000"}, block ? 250 : 0,
                                       std::move(keys), std::move(ids));
  co_return co_await client_->command(std::move(argv));
}

size_t OutboxTailer::hand_on(const redis::RedisReply& r) {
  size_t n = 0;
  for (auto& stream : r.elements) {
    std::string q(redis_keys::queue_of(stream.elements[0].str));
    for (auto& entry : stream.elements[1].elements) {
      ++n;
      last_id_[q] = entry.elements[0].str;
      // Decoded here, once: this process's one reading of the event's bytes.
      auto e = redis::parse_outbox_fields(q, entry.elements[1]);
      if (!e) {
        spdlog::error("outbox {}: unreadable entry {}: {}", q, entry.elements[0].str,
                      e.error().message);
        continue;
      }
      m_events_.inc();
      sink_.publish(*e);
    }
  }
  return n;
}

}  // namespace anteroom
