#pragma once
// QueueStore: the one interface over queue state. MemoryStore (embedded) and RedisStore
// (distributed) implement it and pass the same conformance suite (store/conformance/).
//
// Every mutation commits its state change and its event(s) atomically, assigning the queue's
// next seq. Methods are coroutines on the caller's io_context; arguments are taken by value so
// they outlive suspension. Failures come back as Result errors, never exceptions:
// queue_not_found, queue_closed, ticket_not_found, too_many_queues, unavailable.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/types.hpp"

namespace anteroom {

template <class T>
using Task = boost::asio::awaitable<Result<T>>;

// What put_queue did: the queue as it now is, and whether this call created it (the edge answers
// 201 or 200 from it; a reopened closed queue was not created).
struct PutQueueResult : QueueInfo {
  bool created = false;
};

struct StoreLimits {
  int64_t max_queues = 1000;
  // MemoryStore: used proof-of-work challenges remembered at once, across queues (each until its
  // expiry, ~200 bytes each); a join needing a mark when all are taken is refused over_capacity.
  // (RedisStore's marks are Redis keys: bounded by Redis memory.)
  int64_t pow_marks = 1'000'000;
};

class QueueStore {
 public:
  virtual ~QueueStore() = default;

  // Creates the queue (if new; reopens it empty if it was closed) or updates its config.
  // The merged config must pass rules::validate_schedule and the change
  // rules::check_schedule_change (bad_request / schedule_locked). Setting opens_at in an epoch
  // without a draw makes the epoch's seed (draw/draw.hpp) and opens its pre-queue.
  virtual Task<PutQueueResult> put_queue(std::string q, ConfigPatch patch, Millis now) = 0;
  virtual Task<QueueInfo> get_queue(std::string q) = 0;
  virtual Task<std::vector<QueueInfo>> list_queues() = 0;
  // Just the names, sorted (cheap: what the admission ticker needs every tick).
  virtual Task<std::vector<std::string>> queue_names() = 0;
  // Ends every waiting ticket (reason closed, one `closed` event); further joins get queue_closed.
  // tick() forgets the queue later, once rules::forgettable (queue_not_found from then on).
  // put_queue before that reopens it; after, it creates it again, its seq going on above the
  // old queue's last (never reused: consumers deduplicate events by seq).
  virtual Task<QueueInfo> close_queue(std::string q, Millis now) = 0;

  // Joins the line at the back. A non-empty `dedupe_key` (user id or Idempotency-Key) that
  // already names a waiting or active ticket returns that ticket unchanged. A ticket may be
  // admitted at once when nobody waits and the bucket and capacity allow.
  // By rules::join_rule: refused with rules::join_refusal's error (not_open_yet,
  // joins_refused, queue_closed with details); or enters the pre-queue (Ticket::entrant, place
  // 0, event `entered`, keyed for the draw with the epoch's seed).
  //
  // Every method that takes `now` first performs a due draw (rules::draw_due): exactly once per
  // epoch, whichever call of whichever process comes first; one `drawn` event.
  //
  // SPEC §8, after the dedupe lookup and the join rule, in this order: the invite
  // (req.invite; invite_required if the queue is invite_only and there is none;
  // rules::invite_refusal), then the proof of work (rules::pow_refusal with
  // rules::pow_required_bits(config.pow, req.pow.extra_bits); then pow_used if the challenge's
  // id was used before: the mark, kept until req.pow.expires_ms, is global in RedisStore and
  // bounded in MemoryStore: over_capacity when full). Nothing is consumed by a refused join.
  // A join that goes on takes one use of its invite and marks its challenge used, atomically
  // with the join. A skip code's join waits ahead of the line (Ticket::skip, order
  // rules::kSkipOrder + n, event `joined`), admitted at once if rules::skip_admission_count
  // allows; in the pre-queue it waits there too (not an entrant: no place in the draw).
  virtual Task<Ticket> join(std::string q, JoinRequest req, Millis now) = 0;
  // The ticket's current state with its position; `touch` also marks it seen (abandonment).
  virtual Task<Ticket> get_ticket(std::string q, std::string id, bool touch, Millis now) = 0;
  // Leaves the line (waiting) or gives the slot back (active). Ended tickets are returned as is.
  virtual Task<Ticket> leave(std::string q, std::string id, Millis now) = 0;
  // Ends an active session early (completed). A waiting ticket cannot complete: bad_request.
  virtual Task<Ticket> complete(std::string q, std::string id, Millis now) = 0;
  // Marks tickets as seen (their visitor holds an open stream). Unknown ids are ignored.
  virtual Task<Ok> touch(std::string q, std::vector<std::string> ids, Millis now) = 0;

  // Expires sessions, drops abandoned tickets and admits from the head, per the rules.
  // Last, forgets a closed queue whose sessions are over (rules::forgettable).
  // Safe to call from any number of processes at once. Returns how many events it made.
  virtual Task<int64_t> tick(std::string q, Millis now) = 0;
  // The admission ticker's tick (store/Ticker): tick() if no other process holds the queue's
  // tick lease, taking or renewing it for `lease_ms` under `node`; otherwise nothing, and
  // `elsewhere_ms` says when that lease ends (ask again then). With one process per queue
  // ticking, P processes cost a shared store one tick call per queue per interval instead of P,
  // plus one probe per lease by each other process. With `idle_max_ms` > 0, a queue that has
  // nothing to do (nobody waiting, no close in progress) says for how long at most that holds
  // (`idle_ms`) unless an event of the queue comes first. A store with one process
  // (MemoryStore) always ticks and never reports idle (its tick is a few comparisons).
  struct TickOutcome {
    int64_t events = 0;
    Millis elsewhere_ms = 0;  // > 0: another process ticks this queue; ask again in this long
    Millis idle_ms = 0;       // > 0: nothing to do for this long unless the queue has an event
  };
  // (Separate parameters, not a struct: GCC 12 destroys a braced aggregate argument of a
  // coroutine twice.)
  virtual Task<TickOutcome> tick_leased(std::string q, Millis now, std::string node,
                                        Millis lease_ms, Millis idle_max_ms) {
    (void)node;
    (void)lease_ms;
    (void)idle_max_ms;
    auto n = co_await tick(std::move(q), now);
    if (!n) co_return n.error();
    co_return TickOutcome{*n, 0, 0};
  }
  // The waiting line (join orders) and queue info, for rebuilding a local index. The line is
  // read no earlier than info.seq and may already show later changes; applying every event
  // after info.seq to it (inserts and removals are idempotent) gives the exact line.
  virtual Task<QueueSnapshot> snapshot(std::string q) = 0;
  // One page of the draw (GET .../draw): the draw's state (the seed only once drawn) and, once
  // drawn, the entry ids of places after+1 .. after+limit (limit ≤ 10000). no_draw if the
  // queue's epoch never had opens_at.
  virtual Task<DrawPage> draw_page(std::string q, int64_t after, int64_t limit) = 0;
  // Each ticket's place in the draw (0: not a drawn entrant of this queue), in `ids` order; at
  // most 1000 ids. What a process asks for its local streams when it sees `drawn`.
  virtual Task<std::vector<int64_t>> places(std::string q, std::vector<std::string> ids) = 0;

  // Invite codes (SPEC §8). Mints spec.count new codes (random, rules::kInviteAlphabet) with
  // created_ms = now; too_many_invites if the queue would hold more than
  // rules::kMaxInvitesPerQueue; queue_not_found. Kept until the queue is forgotten.
  virtual Task<std::vector<Invite>> create_invites(std::string q, InviteSpec spec, Millis now) = 0;
  // The queue's codes in code order, after `after` (exclusive; "" = from the start), at most
  // `limit` (1..10000).
  virtual Task<std::vector<Invite>> list_invites(std::string q, std::string after,
                                                 int64_t limit) = 0;
  // Revokes a code (no further joins; the tickets it made stay). invite_not_found if unknown.
  // Revoking again returns it unchanged.
  virtual Task<Invite> revoke_invite(std::string q, std::string code, Millis now) = 0;

  // Ready to serve (the backing server answers).
  virtual Task<Ok> ping() = 0;
};

// 128 random bits from the OS CSPRNG, base64url without padding (22 characters).
std::string new_ticket_id();
// A new invite code: 80 random bits from the OS CSPRNG in rules::kInviteAlphabet (16 chars).
std::string new_invite_code();

}  // namespace anteroom
