#include "store/redis_store.hpp"

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "core/rules.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/script_io.hpp"

namespace anteroom {

using namespace redis;

RedisStore::RedisStore(redis::RedisClient& client, StoreLimits limits)
    : client_(client), limits_(limits) {
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
      limits_(limits) {
  (void)scripts();
}

Task<RedisReply> RedisStore::run(const RedisScript& script, const std::string& q,
                                 std::vector<std::string> args, bool with_queue_list) {
  auto keys = redis_keys::script_keys(q);
  if (with_queue_list) {
    keys.emplace_back(redis_keys::kQueues);
    keys.emplace_back(redis_keys::kOpenQueues);
  }
  auto r = co_await client_.eval(script, std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  if (!r->is_array() || r->elements.empty()) co_return malformed();
  const std::string& status = r->elements[0].str;
  if (status != "ok") co_return script_error(status, q);
  co_return std::move(r).value();
}

Task<Ok> RedisStore::list_open_queues() {
  auto names = co_await queue_names();
  if (!names) co_return names.error();
  for (auto& q : *names) {
    std::vector<std::string> none;
    auto r = co_await run(scripts().list_open, q, std::move(none), /*with_queue_list=*/true);
    if (!r) co_return r.error();
  }
  open_listed_ = true;
  co_return Ok{};
}

Task<PutQueueResult> RedisStore::put_queue(std::string q, ConfigPatch patch, Millis now) {
  if (!rules::valid_queue_name(q))
    co_return err(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
  if (auto s = rules::validate(patch); !s) co_return s.error();
  if (!open_listed_) {
    auto listed = co_await list_open_queues();
    if (!listed) co_return listed.error();
  }
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
  auto r = co_await run(scripts().close_queue, q, std::move(args), /*with_queue_list=*/true);
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  co_return parse_info(q, r->elements[1]);
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
  auto r = co_await run(scripts().tick, q, std::move(args), /*with_queue_list=*/true);
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

// Not built yet (step 3 in progress): the store slices replace these.
Task<DrawPage> RedisStore::draw_page(std::string, int64_t, int64_t) {
  co_return err(Errc::no_draw, "no draw");
}

Task<std::vector<int64_t>> RedisStore::places(std::string, std::vector<std::string> ids) {
  co_return std::vector<int64_t>(ids.size(), 0);
}

}  // namespace anteroom
