#include "store/redis_store.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "core/rules.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/lua_scripts.hpp"

namespace anteroom {
namespace {

using redis::RedisReply;
using redis::RedisScript;

struct Scripts {
  RedisScript put_queue, get_queue, close_queue, join, get_ticket, leave, complete, touch, tick;
};

// Each script is its constants, then lib.lua, then its own file; built once per process.
const Scripts& scripts() {
  static const Scripts s = [] {
    std::string head = "local RETENTION_MS = " + std::to_string(rules::kEndedRetentionMs) + "\n";
    head += redis::embedded_lua("lib");
    auto make = [&](std::string_view name) {
      std::string_view body = redis::embedded_lua(name);
      if (body.empty()) throw std::logic_error("missing embedded Lua script " + std::string(name));
      return RedisScript(head + "\n-- " + std::string(name) + ".lua\n" + std::string(body));
    };
    return Scripts{make("put_queue"),  make("get_queue"), make("close_queue"), make("join"),
                   make("get_ticket"), make("leave"),     make("complete"),    make("touch"),
                   make("tick")};
  }();
  return s;
}

std::string num(int64_t v) { return std::to_string(v); }
// Shortest text that reads back as the same double (Lua's tonumber and strtod agree).
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Error queue_not_found(const std::string& q) {
  return err(Errc::queue_not_found, "no queue named '" + q + "'");
}

// The status word a script returns instead of 'ok'.
Error script_error(const std::string& status, const std::string& q) {
  if (status == "queue_not_found") return queue_not_found(q);
  if (status == "queue_closed") return err(Errc::queue_closed, "this queue is closed");
  if (status == "ticket_not_found")
    return err(Errc::ticket_not_found, "no such ticket in this queue");
  if (status == "too_many_queues")
    return err(Errc::too_many_queues, "the queue limit of this installation is reached");
  if (status == "bad_request")
    return err(Errc::bad_request, "a waiting ticket cannot complete; it was never admitted");
  return err(Errc::internal, "redis script failed: " + status);
}

// Error replies that mean "Redis cannot serve right now" rather than a bug.
Error reply_error(const RedisReply& r) {
  static constexpr std::string_view kTransient[] = {
      "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "OOM"};
  for (auto prefix : kTransient)
    if (r.str.starts_with(prefix)) return err(Errc::unavailable, "redis: " + r.str);
  return err(Errc::internal, "redis: " + r.str);
}

Error malformed() { return err(Errc::internal, "redis script returned an unexpected reply"); }

// Reads the flat string/integer fields of a script reply; remembers whether any was malformed.
class Fields {
 public:
  explicit Fields(const RedisReply& r) : r_(r), ok_(r.is_array()) {}
  bool ok() const { return ok_; }
  size_t size() const { return r_.elements.size(); }
  int64_t i(size_t k) {
    auto v = k < size() ? r_.elements[k].as_int() : std::nullopt;
    ok_ = ok_ && v.has_value();
    return v.value_or(0);
  }
  double d(size_t k) {
    auto v = k < size() ? r_.elements[k].as_double() : std::nullopt;
    ok_ = ok_ && v.has_value();
    return v.value_or(0);
  }
  const std::string& s(size_t k) {
    static const std::string kEmpty;
    ok_ = ok_ && k < size();
    return k < size() ? r_.elements[k].str : kEmpty;
  }

 private:
  const RedisReply& r_;
  bool ok_;
};

// See info() in lua/lib.lua for the field order.
Result<QueueInfo> parse_info(const std::string& q, const RedisReply& r) {
  Fields f(r);
  QueueInfo i;
  i.name = q;
  i.closed = f.s(0) == "1";
  i.seq = static_cast<uint64_t>(f.i(1));
  i.stats.admitted_total = f.i(2);
  i.stats.abandoned_total = f.i(3);
  i.stats.expired_total = f.i(4);
  i.stats.completed_total = f.i(5);
  i.stats.left_total = f.i(6);
  i.config.admit_per_s = f.d(7);
  i.config.max_active = f.i(8);
  i.config.session_ttl_s = f.i(9);
  i.config.abandon_after_s = f.i(10);
  i.config.paused = f.s(11) == "1";
  i.config.target_url = f.s(12);
  i.config.webhooks = rules::decode_webhooks(f.s(13));
  i.stats.waiting = f.i(14);
  i.stats.active = f.i(15);
  i.stats.oldest_joined_ms = f.i(16);
  if (!f.ok() || f.size() != 17) return malformed();
  return i;
}

// See view() in lua/lib.lua for the field order.
Result<Ticket> parse_ticket(const std::string& q, const RedisReply& r) {
  Fields f(r);
  Ticket t;
  t.id = f.s(0);
  t.queue = q;
  auto state = ticket_state_from(f.s(1));
  auto reason = end_reason_from(f.s(2));
  t.order = static_cast<uint64_t>(f.i(3));
  t.joined_ms = f.i(4);
  t.admitted_ms = f.i(5);
  t.expires_ms = f.i(6);
  t.position = f.i(7);
  t.seq = static_cast<uint64_t>(f.i(8));
  if (!f.ok() || f.size() != 9 || !state || !reason) return malformed();
  t.state = *state;
  t.reason = *reason;
  return t;
}

}  // namespace

RedisStore::RedisStore(redis::RedisClient& client, StoreLimits limits)
    : client_(client), limits_(limits), joins_(std::make_unique<JoinLines>()) {
  (void)scripts();  // fail at construction, not at the first call, if a script is missing
}

static std::unique_ptr<redis::RedisClient> client_for(boost::asio::io_context& io,
                                                      std::string_view url) {
  auto opts = redis::RedisOptions::from_url(url);
  if (!opts) throw std::invalid_argument(opts.error().message);
  return std::make_unique<redis::RedisClient>(io, std::move(opts).value());
}

RedisStore::RedisStore(boost::asio::io_context& io, std::string_view url, StoreLimits limits)
    : owned_(client_for(io, url)),
      client_(*owned_),
      limits_(limits),
      joins_(std::make_unique<JoinLines>()) {
  (void)scripts();
}

Task<RedisReply> RedisStore::run(const RedisScript& script, const std::string& q,
                                 std::vector<std::string> args, bool with_queue_list) {
  auto keys = redis_keys::script_keys(q);
  if (with_queue_list) keys.emplace_back(redis_keys::kQueues);
  auto r = co_await client_.eval(script, std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  if (!r->is_array() || r->elements.empty()) co_return malformed();
  const std::string& status = r->elements[0].str;
  if (status != "ok") co_return script_error(status, q);
  co_return std::move(r).value();
}

Task<PutQueueResult> RedisStore::put_queue(std::string q, ConfigPatch patch, Millis now) {
  if (!rules::valid_queue_name(q))
    co_return err(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
  if (auto s = rules::validate(patch); !s) co_return s.error();
  const QueueConfig d;
  std::vector<std::string> args{num(now),
                                q,
                                num(limits_.max_queues),
                                num(d.admit_per_s),
                                num(d.max_active),
                                num(d.session_ttl_s),
                                num(d.abandon_after_s),
                                d.paused ? "1" : "0",
                                d.target_url};
  auto field = [&](const char* name, std::string value) {
    args.emplace_back(name);
    args.push_back(std::move(value));
  };
  if (patch.admit_per_s) field("admit_per_s", num(*patch.admit_per_s));
  if (patch.max_active) field("max_active", num(*patch.max_active));
  if (patch.session_ttl_s) field("session_ttl_s", num(*patch.session_ttl_s));
  if (patch.abandon_after_s) field("abandon_after_s", num(*patch.abandon_after_s));
  if (patch.paused) field("paused", *patch.paused ? "1" : "0");
  if (patch.target_url) field("target_url", *patch.target_url);
  if (patch.webhooks) field("webhooks", rules::encode_webhooks(*patch.webhooks));
  auto r = co_await run(scripts().put_queue, q, std::move(args), /*with_queue_list=*/true);
  if (!r) co_return r.error();
  if (r->elements.size() != 3) co_return malformed();
  auto i = parse_info(q, r->elements[1]);
  if (!i) co_return i.error();
  PutQueueResult out{std::move(i).value()};
  out.created = r->elements[2].integer == 1;
  co_return out;
}

Task<QueueInfo> RedisStore::get_queue(std::string q) {
  // A name that could not have been created cannot exist; it must not reach a key either.
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<std::string> args{};
  auto r = co_await run(scripts().get_queue, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  co_return parse_info(q, r->elements[1]);
}

Task<std::vector<std::string>> RedisStore::queue_names() {
  std::vector<std::string> smembers{"SMEMBERS", std::string(redis_keys::kQueues)};
  auto names = co_await client_.command(std::move(smembers));
  if (!names) co_return names.error();
  if (names->is_error()) co_return reply_error(*names);
  std::vector<std::string> sorted;  // MemoryStore lists by name
  for (auto& n : names->elements) sorted.push_back(n.str);
  std::sort(sorted.begin(), sorted.end());
  co_return sorted;
}

Task<std::vector<QueueInfo>> RedisStore::list_queues() {
  auto names = co_await queue_names();
  if (!names) co_return names.error();
  std::vector<std::string>& sorted = *names;
  std::vector<QueueInfo> out;
  out.reserve(sorted.size());
  // One script per queue: a queue's keys live in its own slot, so no single script may read
  // them all. Not one snapshot across queues, like every multi-queue read in a sharded store.
  for (auto& q : sorted) {
    auto i = co_await get_queue(q);
    if (!i && i.error().code == Errc::queue_not_found) continue;
    if (!i) co_return i.error();
    out.push_back(std::move(i).value());
  }
  co_return out;
}

Task<QueueInfo> RedisStore::close_queue(std::string q, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<std::string> args{num(now), num(kTickBatch)};
  auto r = co_await run(scripts().close_queue, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  co_return parse_info(q, r->elements[1]);
}

// ---------------------------------------------------------------------------------------------
// Join batching. Per queue: the join calls in flight (at most kJoinCallsInFlight) and the joins
// waiting for one of them. A join goes out at once, alone, when nothing is in flight; otherwise
// it waits, and the waiting joins go out together (at most kJoinBatch per call) when a call is
// answered, or as soon as kJoinBatchNoWait of them wait and a second call may be in flight. The
// coroutine that sends a batch (its leader) answers the others of it; when its reply comes it
// first wakes the leader of the next batch, inline, so the next call goes out before anything
// else runs. Nobody waits on a timer: a batch is what arrived while Redis was busy.

// What a waiting join is woken with: its result, or a batch to send (it is the batch's entry
// without a waiter).
struct RedisStore::JoinOutcome {
  std::optional<Result<Ticket>> result;  // answered
  std::vector<JoinEntry> lead;           // else: send this batch
};

// A waiting join's completion handler, type-erased.
class RedisStore::JoinWaiter {
 public:
  virtual ~JoinWaiter() = default;
  // Resumes the waiting join with `outcome` on its own executor: posted (never inline) unless
  // `inline_ok` and the caller already runs there.
  virtual void complete(JoinOutcome outcome, bool inline_ok) = 0;
};

template <class Handler>
class RedisStore::JoinWaiterOp final : public JoinWaiter {
 public:
  explicit JoinWaiterOp(Handler h) : handler_(std::move(h)) {}
  void complete(JoinOutcome outcome, bool inline_ok) override {
    auto ex = boost::asio::get_associated_executor(handler_);
    auto resume = [h = std::move(handler_), o = std::move(outcome)]() mutable {
      std::move(h)(std::move(o));
    };
    if (inline_ok)
      boost::asio::dispatch(ex, std::move(resume));
    else
      boost::asio::post(ex, std::move(resume));
  }

 private:
  Handler handler_;
};

struct RedisStore::JoinEntry {
  Millis now = 0;
  std::string id;                      // the new ticket's id, if this join makes one
  std::string key;                     // dedupe key (may be empty)
  std::unique_ptr<JoinWaiter> waiter;  // null for the batch's leader (the sending coroutine)
};

struct RedisStore::JoinLines {
  struct Line {
    size_t in_flight = 0;            // join calls sent and not answered yet
    std::vector<JoinEntry> waiting;  // in arrival order
  };
  std::mutex mu;
  std::unordered_map<std::string, Line> lines;  // queues with a join call in flight

  // The batch that may go out now (counted as in flight), or none. Keeps these invariants:
  // nothing in flight => nobody waits; fewer than kJoinCallsInFlight in flight => fewer than
  // kJoinBatchNoWait wait. So a join that arrives and can go is always in the batch taken.
  static std::vector<JoinEntry> take(Line& line) {
    const size_t n = line.waiting.size();
    if (n == 0) return {};
    if (line.in_flight > 0 && (line.in_flight >= kJoinCallsInFlight || n < kJoinBatchNoWait))
      return {};
    ++line.in_flight;
    std::vector<JoinEntry> batch;
    if (n <= kJoinBatch) {
      batch.swap(line.waiting);
    } else {
      auto cut = line.waiting.begin() + static_cast<std::ptrdiff_t>(kJoinBatch);
      batch.assign(std::make_move_iterator(line.waiting.begin()), std::make_move_iterator(cut));
      line.waiting.erase(line.waiting.begin(), cut);
    }
    return batch;
  }
};

RedisStore::~RedisStore() = default;

namespace {

// Splits a join script reply (one reply per join, see lua/join.lua) into per-join results.
std::vector<Result<Ticket>> join_results(const std::string& q, const Result<RedisReply>& r,
                                         size_t n) {
  std::optional<Error> all;  // a failure of the whole call
  if (!r)
    all = r.error();
  else if (r->is_error())
    all = reply_error(r.value());
  else if (!r->is_array() || r->elements.size() != n)
    all = malformed();
  std::vector<Result<Ticket>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (all) {
      out.emplace_back(*all);
      continue;
    }
    const RedisReply& one = r->elements[i];
    if (!one.is_array() || one.elements.empty()) {
      out.emplace_back(malformed());
    } else if (one.elements[0].str != "ok") {
      out.emplace_back(script_error(one.elements[0].str, q));
    } else if (one.elements.size() != 3) {
      out.emplace_back(malformed());
    } else {
      auto t = parse_ticket(q, one.elements[1]);
      if (t) t->created = one.elements[2].as_int() == 1;
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace

Task<Ticket> RedisStore::join(std::string q, std::string dedupe_key, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<JoinEntry> batch;
  JoinEntry mine{now, new_ticket_id(), std::move(dedupe_key), nullptr};
  {
    std::lock_guard lock(joins_->mu);
    auto& line = joins_->lines[q];
    line.waiting.push_back(std::move(mine));
    batch = JoinLines::take(line);
    if (batch.empty()) {
      mine = std::move(line.waiting.back());
      line.waiting.pop_back();
    }
  }
  // Nothing in flight for this queue (or enough waiting for a second call): go out now.
  if (!batch.empty()) co_return co_await lead_joins(std::move(q), std::move(batch));
  // Wait to be answered by a later call, or to be woken to send one.
  auto initiation = [this, &q, &mine](auto handler) {
    using Handler = std::decay_t<decltype(handler)>;
    std::unique_lock lock(joins_->mu);
    auto& line = joins_->lines[q];
    mine.waiter = std::make_unique<JoinWaiterOp<Handler>>(std::move(handler));
    line.waiting.push_back(std::move(mine));
    // Only another thread can have changed the line since we looked; then a batch may go now.
    std::vector<JoinEntry> next = JoinLines::take(line);
    lock.unlock();
    if (next.empty()) return;
    std::unique_ptr<JoinWaiter> leader = std::move(next.front().waiter);
    JoinOutcome lead;
    lead.lead = std::move(next);
    leader->complete(std::move(lead), /*inline_ok=*/false);
  };
  JoinOutcome outcome = co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                             void(JoinOutcome)>(
      std::move(initiation), boost::asio::use_awaitable);
  if (outcome.result) co_return std::move(*outcome.result);
  co_return co_await lead_joins(std::move(q), std::move(outcome.lead));
}

Task<Ticket> RedisStore::lead_joins(std::string q, std::vector<JoinEntry> batch) {
  std::vector<std::string> args;
  args.reserve(3 * batch.size());
  for (auto& e : batch) {
    args.push_back(num(e.now));
    args.push_back(e.id);
    args.push_back(e.key);
  }
  auto r = co_await client_.eval(scripts().join, redis_keys::script_keys(q), std::move(args));
  // Wake the next batch's leader first, inline: its call goes out before these answers do.
  std::vector<JoinEntry> next;
  {
    std::lock_guard lock(joins_->mu);
    auto line = joins_->lines.find(q);
    --line->second.in_flight;
    next = JoinLines::take(line->second);
    if (line->second.in_flight == 0) joins_->lines.erase(line);
  }
  if (!next.empty()) {
    std::unique_ptr<JoinWaiter> leader = std::move(next.front().waiter);
    JoinOutcome lead;
    lead.lead = std::move(next);
    leader->complete(std::move(lead), /*inline_ok=*/true);
  }
  auto results = join_results(q, r, batch.size());
  size_t self = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].waiter) {
      self = i;
      continue;
    }
    JoinOutcome answer;
    answer.result = std::move(results[i]);
    batch[i].waiter->complete(std::move(answer), /*inline_ok=*/false);
  }
  co_return std::move(results[self]);
}

Task<Ticket> RedisStore::get_ticket(std::string q, std::string id, bool touch, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<std::string> args{num(now), std::move(id), touch ? "1" : "0"};
  auto r = co_await run(scripts().get_ticket, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  co_return parse_ticket(q, r->elements[1]);
}

Task<Ticket> RedisStore::leave(std::string q, std::string id, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<std::string> args{num(now), std::move(id)};
  auto r = co_await run(scripts().leave, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  co_return parse_ticket(q, r->elements[1]);
}

Task<Ticket> RedisStore::complete(std::string q, std::string id, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<std::string> args{num(now), std::move(id)};
  auto r = co_await run(scripts().complete, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  co_return parse_ticket(q, r->elements[1]);
}

Task<Ok> RedisStore::touch(std::string q, std::vector<std::string> ids, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<std::string> args;
  args.reserve(ids.size() + 1);
  args.push_back(num(now));
  for (auto& id : ids) args.push_back(std::move(id));
  auto r = co_await run(scripts().touch, q, std::move(args));
  if (!r) co_return r.error();
  co_return Ok{};
}

Task<int64_t> RedisStore::tick(std::string q, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  std::vector<std::string> args{num(now), num(kTickBatch)};
  auto r = co_await run(scripts().tick, q, std::move(args));
  if (!r) co_return r.error();
  auto n = r->elements.size() == 2 ? r->elements[1].as_int() : std::nullopt;
  if (!n) co_return malformed();
  co_return *n;
}

// Not one script: a line of a million would block Redis for seconds (bench: snapshot_1M_ms).
// The queue's info (and seq S) comes first, then the line in chunks by join order; a chunk may
// already show changes made after S, which the caller's replay of the events after S settles
// (set insertions and removals are idempotent: see QueueSnapshot).
Task<QueueSnapshot> RedisStore::snapshot(std::string q) {
  auto info = co_await get_queue(q);
  if (!info) co_return info.error();
  QueueSnapshot s;
  s.info = std::move(info).value();
  s.waiting_orders.reserve(static_cast<size_t>(s.info.stats.waiting));
  std::string from = "-inf";
  for (;;) {
    std::vector<std::string> argv{"ZRANGE", redis_keys::wait(q), from, "+inf", "BYSCORE",
                                  "LIMIT", "0", std::to_string(kSnapshotChunk), "WITHSCORES"};
    auto r = co_await client_.command(std::move(argv));
    if (!r) co_return r.error();
    if (r->is_error()) co_return reply_error(*r);
    if (!r->is_array()) co_return malformed();
    for (size_t i = 1; i < r->elements.size(); i += 2) {
      auto v = r->elements[i].as_int();
      if (!v) co_return malformed();
      s.waiting_orders.push_back(static_cast<uint64_t>(*v));
    }
    if (static_cast<int64_t>(r->elements.size() / 2) < kSnapshotChunk) break;
    from = "(" + std::to_string(s.waiting_orders.back());
  }
  co_return s;
}

Task<Ok> RedisStore::ping() {
  std::vector<std::string> ping{"PING"};
  auto r = co_await client_.command(std::move(ping));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  co_return Ok{};
}

}  // namespace anteroom
