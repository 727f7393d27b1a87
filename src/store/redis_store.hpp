#pragma once
// RedisStore: queue state in Redis (distributed mode). Any number of processes may share one
// Redis; each mutation is ONE Lua script that changes the state and appends its event(s) to the
// queue's outbox stream (aq:{q}:outbox) in the same atomic step, so an event exists if and only
// if its state change does. Key layout and scripts: src/store/README.md, redis/keys.hpp, lua/.
//
// Behaves like MemoryStore (both pass store/conformance), with these differences:
// - tick() ends or admits at most kTickBatch tickets per step (expiry, abandonment, admission),
//   so one call on a huge queue never blocks Redis for long; the next tick continues.
// - close_queue() is O(1): waiting tickets read as closed at once, while their bookkeeping is
//   drained kTickBatch at a time by close_queue() and tick() - so closed queues must be ticked.
// - Ended tickets are forgotten by Redis (PEXPIRE) rules::kEndedRetentionMs after they ended,
//   measured on the Redis server's clock instead of the callers' `now`.
// - The on-sale (SPEC §7): the process keys each pre-queue join (draw::key of its entry id with
//   the epoch's seed, which it fetches once per queue and caches) and the script keeps the
//   pre-queue sorted by key, so the draw at opens_at is an O(1) flip done by whichever script
//   first runs at or after opens_at (README "The on-sale").
//   put_queue checks the schedule in C++ against a read of the queue and commits only if the
//   queue is unchanged since (compare-and-set; retried). draw_page() and places() read in
//   chunks (kDrawChunk, kPlacesChunk) so no call grows with the number of entrants.
// - Bots pay, guests skip (SPEC §8): join.lua checks the invite and the proof of work and marks
//   the challenge used (a member of the queue's zset aq:{q}:pow, score its expiry, dropped by
//   the tick after it: single use across every process) and takes the invite's use, in the
//   join's own script. Skippers wait in their own sorted set ahead of everyone; tick admits them
//   first, within the same kTickBatch bound. create_invites writes a whole mint
//   (<= rules::kMaxInviteMint codes) in one script.
// - Events are not pushed anywhere: they wait in the outbox for the relay (src/pipeline).
// - A forgotten queue (rules::forgettable, decided by tick()) leaves its outbox behind for the
//   pipeline, expiring rules::kEndedRetentionMs later, and its last seq (redis_keys::last_seq).
// - Redis Cluster: every script touches one queue's slot. The global queue lists (aq:queues,
//   aq:queues:open, what max_queues counts) are kept here with single-key commands: a place is
//   reserved before a put_queue that creates or reopens, names are taken out after a close and
//   after a tick that closed or forgot the queue (its reply says so: no extra command on a plain
//   tick or a join), and a reconcile once per process repairs what a crash between the steps
//   left (README "The queue registry").
//
// Joins are batched per queue: while a join script call of a queue is in flight, further joins of
// that queue wait, then go out together as ONE call of the same script (lua/join.lua runs a batch
// of joins, each exactly as if alone, in arrival order), at most kJoinBatch per call. A join with
// nothing in flight for its queue goes out at once, alone; a second call may be in flight once
// kJoinBatchNoWait joins wait. This amortises the script's fixed cost
// in Redis (~3.5 of ~14 us per join) when joins arrive faster than Redis answers.
//
// Failure: when Redis cannot be reached every method returns Errc::unavailable promptly (see
// RedisClient), including mutations whose outcome is unknown because the connection dropped
// mid-call. Redis "busy/loading/readonly" error replies also map to unavailable.
// Threading: one thread, the client's io_context (the joins waiting for a batch are plain state
// of that thread). Lifetime: the client must outlive the store, and the store its calls.
#include <array>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/queue_store.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom::redis {
struct Scripts;
}

namespace anteroom {

class RedisStore final : public QueueStore {
 public:
  // Most tickets one tick() ends per step (expire, abandon) and admits. The draw bench (bench 8)
  // measured a tick admitting 500 drawn entrants at 15-33 ms of Redis time on this loaded 2-core
  // machine (a plain line: 9-12 ms), over the 10 ms a single call may take; 200 keeps it under.
  // Still 2,000 admissions a second per ticking process at the 100 ms tick.
  static constexpr int64_t kTickBatch = 200;
  // Places read per draw_page script call (a ZRANGE of 1000 at 1M entrants: ~1 ms), and ids
  // looked up per places script call (a ticket read and a ZRANK each: 500 took 12-29 ms of Redis
  // time at 1M entrants on a loaded 2-core machine; 100 stays well under 10 ms).
  static constexpr int64_t kDrawChunk = 1000;
  static constexpr int64_t kPlacesChunk = 100;
  // Most entries one draw_page returns, most ids one places call takes.
  static constexpr int64_t kMaxDrawPage = 10000;
  static constexpr size_t kMaxPlaces = 1000;
  // Waiting orders read per round trip by snapshot().
  static constexpr int64_t kSnapshotChunk = 5000;
  // Most joins one join script call carries (~10 us of Redis time each).
  static constexpr size_t kJoinBatch = 64;
  // Join calls of one queue in flight at once: the first goes out alone when nothing is in
  // flight; a second only once kJoinBatchNoWait joins wait (measured best under wrk -c50).
  static constexpr size_t kJoinCallsInFlight = 2;
  static constexpr size_t kJoinBatchNoWait = 24;

  // Uses a client owned by the caller (several stores and the relay may share one).
  explicit RedisStore(redis::RedisClient& client, StoreLimits limits = {});
  // Owns a client connected to `url` (redis://host:port[/db]) on `io`. Throws
  // std::invalid_argument if the URL is malformed (a configuration error, caught at startup).
  RedisStore(boost::asio::io_context& io, std::string_view url, StoreLimits limits = {});

  Task<PutQueueResult> put_queue(std::string q, ConfigPatch patch, Millis now) override;
  Task<QueueInfo> get_queue(std::string q) override;
  Task<std::vector<QueueInfo>> list_queues() override;
  Task<std::vector<std::string>> queue_names() override;
  Task<QueueInfo> close_queue(std::string q, Millis now) override;
  Task<Ticket> join(std::string q, JoinRequest req, Millis now) override;
  Task<Ticket> get_ticket(std::string q, std::string id, bool touch, Millis now) override;
  Task<Ticket> leave(std::string q, std::string id, Millis now) override;
  Task<Ticket> complete(std::string q, std::string id, Millis now) override;
  Task<Ok> touch(std::string q, std::vector<std::string> ids, Millis now) override;
  Task<int64_t> tick(std::string q, Millis now) override;
  Task<TickOutcome> tick_leased(std::string q, Millis now, std::string node, Millis lease_ms,
                                Millis idle_max_ms) override;
  Task<QueueSnapshot> snapshot(std::string q) override;
  Task<DrawPage> draw_page(std::string q, int64_t after, int64_t limit) override;
  Task<std::vector<int64_t>> places(std::string q, std::vector<std::string> ids) override;
  Task<std::vector<Invite>> create_invites(std::string q, InviteSpec spec, Millis now) override;
  Task<std::vector<Invite>> list_invites(std::string q, std::string after,
                                         int64_t limit) override;
  Task<Invite> revoke_invite(std::string q, std::string code, Millis now) override;
  Task<Ok> ping() override;

  redis::RedisClient& client() { return client_; }

 private:
  // Makes aq:queues and aq:queues:open agree with the queues (lua/list_open.lua reads each):
  // open ones in both, closed ones in aq:queues only, absent ones in neither. Once per process,
  // before put_queue first counts open queues; idempotent, so many processes may do it at once.
  Task<Ok> reconcile_registry();
  // Takes q out of aq:queues:open (and aq:queues if `forgotten`), then reads the queue and puts
  // the name back where a racing PUT's reopen or re-creation needs it.
  Task<Ok> unlist(const std::string& q, bool forgotten);
  // "open", "closed" or "absent" (lua/list_open.lua).
  Task<std::string> queue_state(const std::string& q);
  // `verb` (SADD, SREM) `list` q: one single-key command on a queue list; its integer reply.
  Task<int64_t> registry(const char* verb, std::string_view list, const std::string& q);
  // SMEMBERS of a queue list.
  Task<std::vector<std::string>> members(std::string_view list);
  // Runs one queue script (its 16 keys, one slot); returns its reply array when the script said
  // 'ok', else the error.
  Task<redis::RedisReply> run(const redis::RedisScript& script, const std::string& q,
                              std::vector<std::string> args);
  // queue_not_found unless the queue exists (for errors MemoryStore answers after that check).
  Task<Ok> check_queue(const std::string& q);
  // get_queue.lua's whole reply: {'ok', info, version, head}.
  Task<redis::RedisReply> read_queue(const std::string& q);
  // The integer scores of sorted set `key` from score `from` on ("-inf", "5", "(5"), ascending,
  // read kSnapshotChunk at a time (one short call each, never the whole set in one).
  Task<std::vector<int64_t>> scores_from(const std::string& key, std::string from);

  // Join batching (redis_joins.cpp): per queue, the join calls in flight and the joins waiting.
  struct JoinWaiter;
  struct JoinEntry {
    Millis now = 0;
    std::string id;              // the new ticket's id, if this join makes one
    std::string key;             // dedupe key (may be empty)
    std::string invite;          // invite code ('' = none)
    PowProof pow;
    JoinWaiter* waiter = nullptr;  // the waiting join (in its coroutine's frame); null: leader
  };
  struct JoinLine {
    size_t in_flight = 0;            // join calls sent and not answered yet
    std::vector<JoinEntry> waiting;  // in arrival order
    std::vector<JoinEntry> take();
  };
  // Sends `batch` (the caller is its entry without a waiter) as one join call, wakes the leader of the
  // queue's next batch, answers the others of `batch` and returns the caller's result.
  Task<Ticket> lead_joins(std::string q, std::vector<JoinEntry> batch);

  // The seed pre-queue joins of a queue are keyed with (lua/draw_secret.lua), cached per queue:
  // fetched when a join comes back 'need_key' (no entry yet, or a new epoch's seed).
  struct Keying {
    std::string commit;  // hex; "" = the queue had no draw when fetched
    std::array<uint8_t, 32> seed{};
  };
  Task<Ok> fetch_keying(const std::string& q);
  // The join script's arguments for `batch`: the cached commitment, then a quad per join.
  std::vector<std::string> join_args(const std::string& q, const std::vector<JoinEntry>& batch);


  // The scripts for this client: the cluster set on a Redis Cluster (redis/script_io.hpp).
  const redis::Scripts& scripts() const;

  std::unique_ptr<redis::RedisClient> owned_;
  redis::RedisClient& client_;
  StoreLimits limits_;
  std::unordered_map<std::string, JoinLine> joins_;  // queues with a join call in flight
  std::unordered_map<std::string, Keying> keying_;   // queues whose draw seed was fetched
  bool registry_reconciled_ = false;  // reconcile_registry() has succeeded
};

}  // namespace anteroom
