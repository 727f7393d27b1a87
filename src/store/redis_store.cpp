#include "store/redis_store.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "core/rules.hpp"
#include "draw/draw.hpp"
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

const redis::Scripts& RedisStore::scripts() const {
  return redis::scripts(client_.options().cluster);
}

Task<RedisReply> RedisStore::run(const RedisScript& script, const std::string& q,
                                 std::vector<std::string> args) {
  auto r = co_await client_.eval(script, redis_keys::script_keys(q), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  if (!r->is_array() || r->elements.empty()) co_return malformed();
  const std::string& status = r->elements[0].str;
  if (status != "ok") co_return script_error(status, q);
  co_return std::move(r).value();
}

// One single-key command on a queue list (SADD/SREM/SISMEMBER name), its integer reply.
Task<int64_t> RedisStore::registry(const char* verb, std::string_view list, const std::string& q) {
  std::vector<std::string> argv{verb, std::string(list), q};
  auto r = co_await client_.command(std::move(argv));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  co_return r->integer;
}

Task<std::string> RedisStore::queue_state(const std::string& q) {
  auto r = co_await run(scripts().list_open, q, {});
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  co_return r->elements[1].str;
}

// The name leaves aq:queues:open (and aq:queues too if the queue was forgotten), then the queue
// is read again: a PUT that reopened or made it again between the script that closed or forgot
// it and the SREM has its name put back here (its own SADDs may have come before the SREM).
// Rare calls (a close, a tick that closed or forgot): never on the join or the plain tick path.
Task<Ok> RedisStore::unlist(const std::string& q, bool forgotten) {
  auto open = co_await registry("SREM", redis_keys::kOpenQueues, q);
  if (!open) co_return open.error();
  if (forgotten) {
    auto all = co_await registry("SREM", redis_keys::kQueues, q);
    if (!all) co_return all.error();
  }
  auto state = co_await queue_state(q);
  if (!state) co_return state.error();
  if (*state == "absent") co_return Ok{};
  auto all = co_await registry("SADD", redis_keys::kQueues, q);
  if (!all) co_return all.error();
  if (*state == "open") {
    auto again = co_await registry("SADD", redis_keys::kOpenQueues, q);
    if (!again) co_return again.error();
  }
  co_return Ok{};
}

// Once per process, before its first put_queue: makes both lists agree with the queues. Repairs
// what an older version left (queues made before aq:queues:open existed) and what a process
// that died between a queue script and its list update left (see README "The queue registry").
Task<Ok> RedisStore::reconcile_registry() {
  auto all = co_await members(redis_keys::kQueues);
  if (!all) co_return all.error();
  auto open = co_await members(redis_keys::kOpenQueues);
  if (!open) co_return open.error();
  std::vector<std::string> names = *all;
  names.insert(names.end(), open->begin(), open->end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  auto in = [](const std::vector<std::string>& v, const std::string& q) {
    return std::find(v.begin(), v.end(), q) != v.end();
  };
  for (auto& q : names) {
    if (!rules::valid_queue_name(q)) {
      // A name no PUT could have made names no queue (and must not reach a key): out of both.
      for (auto list : {redis_keys::kOpenQueues, redis_keys::kQueues}) {
        auto r = co_await registry("SREM", list, q);
        if (!r) co_return r.error();
      }
      continue;
    }
    auto s = co_await queue_state(q);
    if (!s) co_return s.error();
    const std::string state = std::move(s).value();
    if (state == "open") {
      if (!in(*open, q)) {
        auto r = co_await registry("SADD", redis_keys::kOpenQueues, q);
        if (!r) co_return r.error();
      }
      if (!in(*all, q)) {
        auto r = co_await registry("SADD", redis_keys::kQueues, q);
        if (!r) co_return r.error();
      }
    } else if (state == "closed") {
      if (in(*open, q)) {
        auto r = co_await unlist(q, /*forgotten=*/false);
        if (!r) co_return r.error();
      } else if (!in(*all, q)) {
        auto r = co_await registry("SADD", redis_keys::kQueues, q);
        if (!r) co_return r.error();
      }
    } else {
      auto r = co_await unlist(q, /*forgotten=*/true);
      if (!r) co_return r.error();
    }
  }
  registry_reconciled_ = true;
  co_return Ok{};
}

Task<std::vector<std::string>> RedisStore::members(std::string_view list) {
  std::vector<std::string> smembers{"SMEMBERS", std::string(list)};
  auto r = co_await client_.command(std::move(smembers));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  std::vector<std::string> out;
  out.reserve(r->elements.size());
  for (auto& n : r->elements) out.push_back(std::move(n.str));
  co_return out;
}

Task<RedisReply> RedisStore::read_queue(const std::string& q) {
  std::vector<std::string> args{};
  auto r = co_await run(scripts().get_queue, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() != 4) co_return malformed();
  co_return r;
}

// The schedule rules are checked here, once, in C++ (rules::validate_schedule of the merged
// config, rules::check_schedule_change against the queue as read); the script commits only if
// the queue's version is still the one read (compare-and-set), else this reads and checks again.
Task<PutQueueResult> RedisStore::put_queue(std::string q, ConfigPatch patch, Millis now) {
  if (!rules::valid_queue_name(q))
    co_return err(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
  if (auto s = rules::validate(patch); !s) co_return s.error();
  if (!registry_reconciled_) {
    auto reconciled = co_await reconcile_registry();
    if (!reconciled) co_return reconciled.error();
  }
  constexpr int kAttempts = 4;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto cur = co_await read_queue(q);
    if (!cur && cur.error().code != Errc::queue_not_found) co_return cur.error();
    std::string version = "new";
    QueueConfig merged;
    bool opening = !cur;  // creating, or (below) reopening: takes a place among the open queues
    if (cur) {
      auto info = parse_info(q, cur->elements[1]);
      if (!info) co_return info.error();
      if (auto s = rules::check_schedule_change(*info, patch); !s) co_return s.error();
      merged = info->config;
      version = cur->elements[2].str;
      opening = info->closed;
    }
    patch.apply_to(merged);
    if (auto s = rules::validate_schedule(merged); !s) co_return s.error();
    // A seed for the case this put opens the epoch's pre-queue (the script keeps an existing one).
    const auto seed = draw::new_seed();
    const QueueConfig d;
    std::vector<std::string> args{num(now),
                                  q,
                                  num(limits_.max_queues),
                                  num(d.admit_per_s),
                                  num(d.max_active),
                                  num(d.session_ttl_s),
                                  num(d.abandon_after_s),
                                  d.paused ? "1" : "0",
                                  d.target_url,
                                  version,
                                  patch.touches_schedule() ? "1" : "0",
                                  draw::hex(seed),
                                  draw::commitment(seed)};
    auto field = [&](const char* name, std::string value) {
      args.emplace_back(name);
      args.push_back(std::move(value));
    };
    auto time = [](const std::optional<int64_t>& t) { return t ? num(*t) : std::string(); };
    if (patch.admit_per_s) field("admit_per_s", num(*patch.admit_per_s));
    if (patch.max_active) field("max_active", num(*patch.max_active));
    if (patch.session_ttl_s) field("session_ttl_s", num(*patch.session_ttl_s));
    if (patch.abandon_after_s) field("abandon_after_s", num(*patch.abandon_after_s));
    if (patch.paused) field("paused", *patch.paused ? "1" : "0");
    if (patch.target_url) field("target_url", *patch.target_url);
    if (patch.webhooks) field("webhooks", rules::encode_webhooks(*patch.webhooks));
    if (patch.prequeue_at) field("prequeue_at", time(*patch.prequeue_at));
    if (patch.opens_at) field("opens_at", time(*patch.opens_at));
    if (patch.closes_at) field("closes_at", time(*patch.closes_at));
    if (patch.mode) field("mode", std::string(to_string(*patch.mode)));
    if (patch.message) field("message", *patch.message);
    if (patch.pow) field("pow", rules::encode_pow(*patch.pow));
    if (patch.invite_only) field("invite_only", *patch.invite_only ? "1" : "0");
    // The place among the open queues is taken first, on aq:queues:open alone (another Cluster
    // slot than the queue's); the script commits only if the queue is still as read, so it opens
    // the queue only with a place. A place taken now is given back if the script does not commit.
    bool reserved = false;
    if (opening) {
      std::vector<std::string> rargs{q, num(limits_.max_queues)};
      std::vector<std::string> rkeys{std::string(redis_keys::kOpenQueues)};
      auto res = co_await client_.eval(scripts().reserve_queue, std::move(rkeys), std::move(rargs));
      if (!res) co_return res.error();
      if (res->is_error()) co_return reply_error(*res);
      if (res->integer < 0) co_return script_error("too_many_queues", q);
      reserved = res->integer == 1;
    }
    auto r = co_await client_.eval(scripts().put_queue, redis_keys::script_keys(q),
                                   std::move(args));
    const bool committed = r && !r->is_error() && r->is_array() && !r->elements.empty() &&
                           r->elements[0].str == "ok";
    if (reserved && !committed) {
      // (A mutation whose reply was lost may have committed: the reread below, or the next
      // reconcile, puts the name back then.)
      auto back = co_await registry("SREM", redis_keys::kOpenQueues, q);
      if (!back) co_return back.error();
    }
    if (!r) co_return r.error();
    if (r->is_error()) co_return reply_error(*r);
    if (!r->is_array() || r->elements.empty()) co_return malformed();
    const std::string& status = r->elements[0].str;
    if (status == "conflict") continue;  // changed since read: read and check again
    if (status != "ok") co_return script_error(status, q);
    if (r->elements.size() != 3) co_return malformed();
    auto i = parse_info(q, r->elements[1]);
    if (!i) co_return i.error();
    // Listed before answering, on every PUT (rare; cheap): a PUT that failed here after its
    // script committed is retried by the operator, and the retry lists the queue. The open set
    // again too on an opening: a close racing this reopen may have taken the name out after the
    // reservation (RedisStore::unlist).
    auto listed = co_await registry("SADD", redis_keys::kQueues, q);
    if (!listed) co_return listed.error();
    if (opening && !i->closed) {
      auto again = co_await registry("SADD", redis_keys::kOpenQueues, q);
      if (!again) co_return again.error();
    }
    PutQueueResult out{std::move(i).value()};
    out.created = r->elements[2].integer == 1;
    co_return out;
  }
  co_return err(Errc::unavailable, "the queue kept changing during the update; try again");
}

Task<QueueInfo> RedisStore::get_queue(std::string q) {
  // A name that could not have been created cannot exist; it must not reach a key either.
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  auto r = co_await read_queue(q);
  if (!r) co_return r.error();
  co_return parse_info(q, r->elements[1]);
}

Task<std::vector<std::string>> RedisStore::queue_names() {
  auto names = co_await members(redis_keys::kQueues);
  if (!names) co_return names.error();
  std::sort(names->begin(), names->end());  // MemoryStore lists by name
  co_return names;
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
  auto info = parse_info(q, r->elements[1]);
  if (!info) co_return info.error();
  // Closed: the queue stops counting toward max_queues. (Also when it was closed already: a
  // DELETE retried after a failure here completes the list update.)
  auto unlisted = co_await unlist(q, /*forgotten=*/false);
  if (!unlisted) co_return unlisted.error();
  co_return info;
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
  auto r = co_await tick_leased(std::move(q), now, "", 0, 0);
  if (!r) co_return r.error();
  co_return r->events;
}

Task<QueueStore::TickOutcome> RedisStore::tick_leased(std::string q, Millis now,
                                                      std::string node, Millis lease_ms,
                                                      Millis idle_max_ms) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  // The lottery's seed (mode random): Redis' own math.random is deterministic per script.
  uint32_t rnd = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&rnd), sizeof rnd) != 1)
    co_return err(Errc::internal, "RAND_bytes failed");
  std::vector<std::string> args{num(now), num(kTickBatch),
                                num(static_cast<int64_t>(rnd & 0x7fffffff)),
                                std::move(node), num(lease_ms), num(idle_max_ms)};
  auto r = co_await run(scripts().tick, q, std::move(args));
  if (!r) co_return r.error();
  // {'ok', events[, 0, idle ms]} or, when another process holds the lease, {'ok', 0, its
  // remaining ms}, or {'ok', events, 0, 0, 'closed'|'forgot'}: the lists change (rare).
  auto n = r->elements.size() >= 2 ? r->elements[1].as_int() : std::nullopt;
  if (!n) co_return malformed();
  TickOutcome out{*n, 0, 0};
  if (r->elements.size() >= 3) {
    auto left = r->elements[2].as_int();
    if (!left) co_return malformed();
    if (r->elements.size() == 3) out.elsewhere_ms = std::max<Millis>(*left, 1);
  }
  if (r->elements.size() == 4) {
    auto idle = r->elements[3].as_int();
    if (!idle) co_return malformed();
    out.idle_ms = std::max<Millis>(*idle, 0);
  }
  if (r->elements.size() == 5) {
    const std::string& change = r->elements[4].str;
    if (change != "closed" && change != "forgot") co_return malformed();
    // The tick's work is committed whatever happens here; a list update that fails leaves a
    // name the readers skip (or one that counts toward max_queues) until the next reconcile.
    auto unlisted = co_await unlist(q, /*forgotten=*/change == "forgot");
    (void)unlisted;
  }
  co_return out;
}

// Not one script: a line of a million would block Redis for seconds (bench: snapshot_1M_ms).
// The queue's info (and seq S, and the draw's head) comes first, then the line in chunks: the
// waiting drawn entrants (orders base + head .. base + n, less the gone places, read in chunks
// from pgone), then the FIFO line by join order. A chunk may already show changes made after
// S, which the caller's replay of the events after S settles (set insertions and removals are
// idempotent: see QueueSnapshot; pgone only grows, so it never hides a place gone before S).
Task<QueueSnapshot> RedisStore::snapshot(std::string q) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  auto cur = co_await read_queue(q);
  if (!cur) co_return cur.error();
  auto info = parse_info(q, cur->elements[1]);
  if (!info) co_return info.error();
  auto head = cur->elements[3].as_int();
  if (!head) co_return malformed();
  QueueSnapshot s;
  s.info = std::move(info).value();
  s.waiting_orders.reserve(static_cast<size_t>(s.info.stats.waiting));
  const DrawInfo& d = s.info.draw;
  if (d.state == DrawState::drawn && !s.info.closed && *head <= d.entrants) {
    auto gone = co_await scores_from(redis_keys::pgone(q), std::to_string(*head));
    if (!gone) co_return gone.error();  // ascending places >= head
    size_t g = 0;
    for (int64_t p = *head; p <= d.entrants; ++p) {
      while (g < gone->size() && (*gone)[g] < p) ++g;
      if (g < gone->size() && (*gone)[g] == p) continue;
      s.waiting_orders.push_back(d.base + static_cast<uint64_t>(p));
    }
  }
  auto line = co_await scores_from(redis_keys::wait(q), "-inf");
  if (!line) co_return line.error();
  for (int64_t o : *line) s.waiting_orders.push_back(static_cast<uint64_t>(o));
  // The skippers last (their orders are above every line order), score n = order - kSkipOrder.
  if (!s.info.closed) {
    auto skip = co_await scores_from(redis_keys::skip(q), "-inf");
    if (!skip) co_return skip.error();
    for (int64_t n : *skip)
      s.waiting_orders.push_back(rules::kSkipOrder + static_cast<uint64_t>(n));
  }
  co_return s;
}

Task<std::vector<int64_t>> RedisStore::scores_from(const std::string& key, std::string from) {
  std::vector<int64_t> out;
  for (bool more = true; more;) {
    std::vector<std::string> argv{"ZRANGE", key, from, "+inf", "BYSCORE",
                                  "LIMIT", "0", std::to_string(kSnapshotChunk), "WITHSCORES"};
    auto r = co_await client_.command(std::move(argv));
    if (!r) co_return r.error();
    if (r->is_error()) co_return reply_error(*r);
    if (!r->is_array()) co_return malformed();
    for (size_t i = 1; i < r->elements.size(); i += 2) {
      auto v = r->elements[i].as_int();
      if (!v) co_return malformed();
      out.push_back(*v);
    }
    more = static_cast<int64_t>(r->elements.size() / 2) == kSnapshotChunk;
    if (more) from = "(" + std::to_string(out.back());
  }
  co_return out;
}

Task<Ok> RedisStore::check_queue(const std::string& q) {
  std::vector<std::string> exists{"EXISTS", redis_keys::meta(q)};
  auto r = co_await client_.command(std::move(exists));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  if (r->integer != 1) co_return queue_not_found(q);
  co_return Ok{};
}

// One script call mints the whole batch (at most rules::kMaxInviteMint codes: a few ms of Redis
// time), so the per-queue bound is checked and the codes written atomically.
Task<std::vector<Invite>> RedisStore::create_invites(std::string q, InviteSpec spec, Millis now) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  if (auto s = rules::validate(spec, now); !s) {
    auto found = co_await check_queue(q);  // an unknown queue is queue_not_found (MemoryStore)
    co_return found ? s.error() : found.error();
  }
  Invite proto;
  proto.uses = spec.uses;
  proto.expires_ms = spec.expires_ms;
  proto.skip = spec.skip;
  proto.created_ms = now;
  proto.label = spec.label;
  // A code that exists already (80 random bits: practically never) makes the script write
  // nothing; new codes are minted then.
  constexpr int kAttempts = 3;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::vector<std::string> args{num(rules::kMaxInvitesPerQueue), encode_invite(proto)};
    args.reserve(2 + static_cast<size_t>(spec.count));
    for (int64_t i = 0; i < spec.count; ++i) args.push_back(new_invite_code());
    std::vector<std::string> codes(args.begin() + 2, args.end());
    auto r = co_await client_.eval(scripts().create_invites, redis_keys::script_keys(q),
                                   std::move(args));
    if (!r) co_return r.error();
    if (r->is_error()) co_return reply_error(*r);
    if (!r->is_array() || r->elements.empty()) co_return malformed();
    const std::string& status = r->elements[0].str;
    if (status == "collision") continue;
    if (status != "ok") co_return script_error(status, q);
    std::vector<Invite> out;
    out.reserve(codes.size());
    for (auto& c : codes) {
      out.push_back(proto);
      out.back().code = std::move(c);
    }
    co_return out;
  }
  co_return err(Errc::internal, "could not mint unique invite codes");
}

Task<std::vector<Invite>> RedisStore::list_invites(std::string q, std::string after,
                                                   int64_t limit) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  if (limit < 1 || limit > rules::kMaxInviteMint) {
    auto found = co_await check_queue(q);
    if (!found) co_return found.error();
    co_return err(Errc::bad_request, "limit must be between 1 and 10000");
  }
  std::vector<std::string> args{std::move(after), num(limit)};
  auto r = co_await run(scripts().list_invites, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() % 2 != 1) co_return malformed();
  std::vector<Invite> out;
  out.reserve(r->elements.size() / 2);
  for (size_t i = 1; i + 1 < r->elements.size(); i += 2) {
    auto v = decode_invite(r->elements[i].str, r->elements[i + 1].str);
    if (!v) co_return malformed();
    out.push_back(std::move(*v));
  }
  co_return out;
}

Task<Invite> RedisStore::revoke_invite(std::string q, std::string code, Millis) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  if (!rules::valid_invite_code(code)) co_return script_error("invite_not_found", q);
  std::vector<std::string> args{code};
  auto r = co_await run(scripts().revoke_invite, q, std::move(args));
  if (!r) co_return r.error();
  if (r->elements.size() != 2) co_return malformed();
  auto v = decode_invite(std::move(code), r->elements[1].str);
  if (!v) co_return malformed();
  co_return std::move(*v);
}

Task<Ok> RedisStore::ping() {
  std::vector<std::string> ping{"PING"};
  auto r = co_await client_.command(std::move(ping));
  if (!r) co_return r.error();
  if (r->is_error()) co_return reply_error(*r);
  co_return Ok{};
}

// The draw's state and, once drawn, places after+1 .. after+limit, read kDrawChunk at a time
// (each chunk one short script call); each ticket id becomes its public entry id here.
Task<DrawPage> RedisStore::draw_page(std::string q, int64_t after, int64_t limit) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  if (after < 0) co_return err(Errc::bad_request, "after is a place >= 0");
  limit = std::clamp<int64_t>(limit, 0, kMaxDrawPage);
  DrawPage page;
  for (bool first = true, more = true; more; first = false) {
    const int64_t want = std::min(kDrawChunk, limit - static_cast<int64_t>(page.entries.size()));
    std::vector<std::string> args{num(after + static_cast<int64_t>(page.entries.size())),
                                  num(want)};
    auto r = co_await run(scripts().draw_page, q, std::move(args));
    if (!r) co_return r.error();
    if (r->elements.size() < 7) co_return malformed();
    if (first) {
      auto state = draw_state_from(r->elements[1].str);
      auto entrants = r->elements[4].as_int();
      auto base = r->elements[5].as_int();
      auto at = r->elements[6].as_int();
      if (!state || !entrants || !base || !at) co_return malformed();
      page.info.state = *state;
      page.info.commitment = r->elements[2].str;
      page.info.seed = r->elements[3].str;
      page.info.entrants = *entrants;
      page.info.base = static_cast<uint64_t>(*base);
      page.info.drawn_at_ms = *at;
    }
    const size_t got = r->elements.size() - 7;
    for (size_t i = 7; i < r->elements.size(); ++i)
      page.entries.push_back(draw::entry_id(r->elements[i].str));
    more = page.info.state == DrawState::drawn && static_cast<int64_t>(got) == want &&
           static_cast<int64_t>(page.entries.size()) < limit;
  }
  co_return page;
}

Task<std::vector<int64_t>> RedisStore::places(std::string q, std::vector<std::string> ids) {
  if (!rules::valid_queue_name(q)) co_return queue_not_found(q);
  if (ids.size() > kMaxPlaces) co_return err(Errc::bad_request, "at most 1000 ids per call");
  std::vector<int64_t> out(ids.size(), 0);
  for (size_t from = 0; from < ids.size(); from += kPlacesChunk) {
    const size_t to = std::min(ids.size(), from + kPlacesChunk);
    std::vector<std::string> args;
    std::vector<size_t> at;  // the index in `ids` of each argument
    for (size_t i = from; i < to; ++i) {
      if (!rules::valid_ticket_id(ids[i])) continue;  // no such ticket: place 0, no key made
      args.push_back(ids[i]);
      at.push_back(i);
    }
    if (args.empty()) continue;
    auto r = co_await run(scripts().places, q, std::move(args));
    if (!r) co_return r.error();
    if (r->elements.size() != at.size() + 1) co_return malformed();
    for (size_t k = 0; k < at.size(); ++k) {
      auto v = r->elements[k + 1].as_int();
      if (!v) co_return malformed();
      out[at[k]] = *v;
    }
  }
  co_return out;
}

}  // namespace anteroom
