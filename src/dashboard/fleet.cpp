// The fleet's rows: their JSON, and the two boards (this process alone; a hash in Redis).
#include <boost/json.hpp>
#include <unordered_map>

#include "dashboard/dashboard.hpp"
#include "dashboard/frame.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/redis_client.hpp"
#include "views/json_writer.hpp"

namespace anteroom::dashboard {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The row's fields after "node" (shared by the board's JSON and the overview's process rows).
void row_fields(views::JsonWriter& w, const ProcessRow& r) {
  w.num("started_ms", r.started_ms);
  w.num("seen_ms", r.seen_ms);
  w.num("streams", r.streams);
  w.num("admin_streams", r.admin_streams);
  w.num("connections", r.connections);
  w.real_or_null("relay_lag_ms", r.relay_lag_ms);
  w.real_or_null("outbox_backlog", r.outbox_backlog);
  w.real_or_null("consumer_lag", r.consumer_lag);
  w.real_or_null("pubsub_reconnects", r.pubsub_reconnects);
  // Keys escaped although queue names need none: a row read back from Redis is outside data.
  std::string by = "{";
  for (const auto& [q, n] : r.streams_by_queue) {
    if (by.size() > 1) by += ',';
    views::JsonWriter::string(by, q);
    by += ':';
    by += std::to_string(n);
  }
  by += '}';
  w.raw("streams_by_queue", by);
}

std::optional<int64_t> int_field(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= INT64_MAX) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

// A pipeline figure: a number, or null/absent (the process has no such part). Anything else
// makes the row unreadable.
bool opt_number(const json::object& o, std::string_view k, std::optional<double>& out) {
  auto* v = o.if_contains(k);
  if (!v || v->is_null()) return true;
  if (!v->is_number()) return false;
  out = v->to_number<double>();
  return true;
}

}  // namespace

std::string encode_row(const ProcessRow& r) {
  std::string out;
  out.reserve(256 + 32 * r.streams_by_queue.size());
  views::JsonWriter w(out);
  w.str("node", r.node);
  row_fields(w, r);
  w.close();
  return out;
}

void append_process_json(std::string& out, const ProcessRow& r, bool self, bool stale,
                         int64_t age_s) {
  views::JsonWriter w(out);
  w.str("node", r.node);
  w.boolean("self", self);
  w.boolean("stale", stale);
  w.num("age_s", age_s);
  row_fields(w, r);
  w.close();
}

std::optional<ProcessRow> decode_row(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  ProcessRow r;
  auto* node = o.if_contains("node");
  if (!node || !node->is_string() || node->get_string().empty()) return std::nullopt;
  r.node = std::string(node->get_string());
  auto started = int_field(o, "started_ms"), seen = int_field(o, "seen_ms");
  auto streams = int_field(o, "streams"), admin = int_field(o, "admin_streams");
  auto conns = int_field(o, "connections");
  if (!started || !seen || !streams || !admin || !conns) return std::nullopt;
  r.started_ms = *started;
  r.seen_ms = *seen;
  r.streams = *streams;
  r.admin_streams = *admin;
  r.connections = *conns;
  if (!opt_number(o, "relay_lag_ms", r.relay_lag_ms) ||
      !opt_number(o, "outbox_backlog", r.outbox_backlog) ||
      !opt_number(o, "consumer_lag", r.consumer_lag) ||
      !opt_number(o, "pubsub_reconnects", r.pubsub_reconnects))
    return std::nullopt;
  if (auto* by = o.if_contains("streams_by_queue")) {
    if (!by->is_object()) return std::nullopt;
    for (const auto& [k, n] : by->get_object()) {
      if (!n.is_int64()) return std::nullopt;
      r.streams_by_queue.emplace_back(std::string(k), n.get_int64());
    }
  }
  return r;
}

namespace {

// Embedded: one process, so the board is this process's last row.
class MemoryFleet final : public FleetBoard {
 public:
  asio::awaitable<Result<Ok>> publish(ProcessRow row) override {
    row_ = std::move(row);
    co_return Ok{};
  }
  asio::awaitable<Result<std::vector<ProcessRow>>> rows(Millis now, Millis forget_ms) override {
    std::vector<ProcessRow> out;
    if (row_ && row_->seen_ms >= now - forget_ms) out.push_back(*row_);
    co_return out;
  }

 private:
  std::optional<ProcessRow> row_;
};

// The hash aq:fleet: field = node id, value = encode_row. One key, so each command is one slot.
class RedisFleet final : public FleetBoard {
 public:
  explicit RedisFleet(redis::RedisClient& c) : c_(c) {}

  asio::awaitable<Result<Ok>> publish(ProcessRow row) override {
    // (argv built first: GCC 12 miscompiles an initializer list inside a co_await expression.)
    std::vector<std::string> argv{"HSET", std::string(redis_keys::kFleet), row.node,
                                  encode_row(row)};
    auto r = co_await c_.command(std::move(argv));
    if (!r) co_return r.error();
    if (r->is_error()) co_return err(Errc::unavailable, "HSET aq:fleet: " + r->str);
    co_return Ok{};
  }

  asio::awaitable<Result<std::vector<ProcessRow>>> rows(Millis now, Millis forget_ms) override {
    std::vector<std::string> argv{"HGETALL", std::string(redis_keys::kFleet)};
    auto r = co_await c_.command(std::move(argv));
    if (!r) co_return r.error();
    if (r->is_error() || !r->is_array() || r->elements.size() % 2)
      co_return err(Errc::unavailable, "HGETALL aq:fleet: unexpected reply " + r->str);
    std::vector<ProcessRow> out;
    std::vector<std::string> forget{"HDEL", std::string(redis_keys::kFleet)};
    for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
      // A row this version cannot read (another version's, or damaged) is skipped, not
      // deleted: its writer may still be alive and will keep it fresh.
      auto row = decode_row(r->elements[i + 1].str);
      if (!row) continue;
      if (row->seen_ms < now - forget_ms) {
        forget.push_back(r->elements[i].str);
        continue;
      }
      out.push_back(std::move(*row));
    }
    if (forget.size() > 2) {
      // Best effort: another reader may have deleted them already, and a failure here changes
      // nothing about this sample (the next reader tries again).
      (void)co_await c_.command(std::move(forget));
    }
    co_return out;
  }

 private:
  redis::RedisClient& c_;
};

}  // namespace

std::unique_ptr<FleetBoard> memory_fleet() { return std::make_unique<MemoryFleet>(); }
std::unique_ptr<FleetBoard> redis_fleet(redis::RedisClient& client) {
  return std::make_unique<RedisFleet>(client);
}

}  // namespace anteroom::dashboard
