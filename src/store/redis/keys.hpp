#pragma once
// The Redis key layout of anteroom, defined once. Every key of one queue carries the hash tag
// {q}, so a queue lives in one Redis Cluster slot and its Lua scripts stay single-slot.
// The global keys (kQueues, kOpenQueues, kFleet, kWebhookQueues) are outside every queue's
// slot: every command on one of them touches it alone, and no script names one together with a
// queue's key.
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::redis_keys {

// SET of queue names: list_queues and the ticker.
inline constexpr std::string_view kQueues = "aq:queues";
// SET of the names of queues that are not closed: what --max-queues counts (a closed queue
// takes no place, so a DELETE then a PUT of a new queue works at the limit).
inline constexpr std::string_view kOpenQueues = "aq:queues:open";
// HASH node id -> that process's dashboard row (dashboard::encode_row JSON), published once a
// sample by each process; rows not published for an hour are deleted by the readers. Global
// (outside every queue's slot), and every command on it touches it alone.
inline constexpr std::string_view kFleet = "aq:fleet";

inline std::string prefix(std::string_view q) { return "aq:{" + std::string(q) + "}:"; }
// HASH seq, orders, closed, epoch, tokens, last_ms, *_total counters, cfgv (+1 per put: the
// put_queue compare-and-set).
inline std::string meta(std::string_view q) { return prefix(q) + "meta"; }
// HASH admit_per_s, max_active, session_ttl_s, abandon_after_s, paused, target_url, webhooks,
// prequeue_at, opens_at, closes_at (Unix s; '' = unset), mode, message.
inline std::string cfg(std::string_view q) { return prefix(q) + "cfg"; }
// ZSET waiting ticket ids, score = join order.
inline std::string wait(std::string_view q) { return prefix(q) + "wait"; }
// ZSET active ticket ids, score = expires_ms.
inline std::string active(std::string_view q) { return prefix(q) + "active"; }
// HASH ticket id -> its record, for every waiting and active ticket (lua/lib.lua encode/decode:
// 'w order joined ep seen-joined klen ' key dk, or 'a|e order joined ep admitted expires place
// reason klen ' key dk; numbers hex, times ms; key = the dedupe key, dk = an entrant's 32-byte
// draw key). One field, ~100 B with its 26-32-byte value, where a hash key per ticket cost
// ~220 B. Last seen lives here (no index by it): the tick's abandonment sweep walks the waiting
// with a cursor, all of them once per abandon_after_s, so a visitor is dropped between
// abandon_after_s and 2 x abandon_after_s after last seen (at once if a queue has <= 32
// waiting), and never admitted past abandon_after_s (the admission checks it).
inline std::string live(std::string_view q) { return prefix(q) + "live"; }
// HASH dedupe key (user id / Idempotency-Key) -> ticket id, for waiting and active tickets.
inline std::string dedupe(std::string_view q) { return prefix(q) + "dedupe"; }
// ZSET ticket ids that were waiting when the queue closed, not yet marked ended (drained by
// close and tick, kTickBatch at a time; until then readers treat them as closed by their epoch).
inline std::string closing(std::string_view q) { return prefix(q) + "closing"; }
// STREAM of committed events (the transactional outbox): one field, kOutboxField, holding the
// event in its one wire form (core/event_codec.hpp), written by lua/lib.lua `emit`.
inline std::string outbox(std::string_view q) { return prefix(q) + "outbox"; }
inline constexpr std::string_view kOutboxField = "event";
// STRING the last seq of a queue that was forgotten (closed, sessions over: rules::forgettable),
// the one key that outlives it. A queue made again under the name continues above it (put_queue
// reads and deletes it), so consumers that deduplicate by seq (hub views, webhook intake) take
// the new queue's events as new. A few bytes per name ever forgotten.
inline std::string last_seq(std::string_view q) { return prefix(q) + "lastseq"; }
// HASH ticket id -> an ended ticket's record (the same encoding as in `live`, state 'e', with
// its reason, and its place once fixed), moved here out of `live` when it ends. Two hashes take
// turns (lua/lib.lua tend): a ticket ended in period P = floor(now / rules::kEndedRetentionMs)
// goes to ended(q, P % 2), whose field kEndedGen holds P; a write in a newer period empties the
// hash it reuses. So an ended ticket is readable for kEndedRetentionMs to 2 x that (the
// visitor's last GET), at one hash field (~96 B) each instead of a key with a TTL.
inline std::string ended0(std::string_view q) { return prefix(q) + "ended0"; }
inline std::string ended1(std::string_view q) { return prefix(q) + "ended1"; }
inline std::string ended(std::string_view q, int which) { return which ? ended1(q) : ended0(q); }
inline constexpr std::string_view kEndedGen = "#gen";  // not a ticket id (ids are base64url)
// The layout before (standalone only, read by lua/lib.lua migrate and tget): a ticket's own key,
// a HASH per ticket, or an ended ticket's record as a STRING, PX kEndedRetentionMs. Nothing
// writes new ones; those left by the version before expire by themselves.
inline std::string ticket(std::string_view q, std::string_view id) {
  return prefix(q) + "t:" + std::string(id);
}
// ZSET last seen of each waiting ticket: the layout before (standalone only, see ticket()).
inline std::string seen(std::string_view q) { return prefix(q) + "seen"; }

// The queue a per-queue key belongs to: "q" from "aq:{q}:outbox" (the hash tag); "" if `key`
// has none. lua/lib.lua does the same to KEYS[1] (QUEUE).
inline std::string_view queue_of(std::string_view key) {
  auto a = key.find('{');
  auto b = a == std::string_view::npos ? a : key.find('}', a);
  return b == std::string_view::npos ? std::string_view{} : key.substr(a + 1, b - a - 1);
}

// The Redis Pub/Sub channel of the Kafka pipeline: pipeline/EventConsumer PUBLISHes each event
// it consumed from Kafka here (the bytes untouched), and every process's pipeline/PubSubFeed
// SUBSCRIBEs to it. Not a key: channels live outside the keyspace (and any Cluster slot).
inline constexpr std::string_view kEventsChannel = "aq:events";

// STRING node id of the process whose relay holds the queue's lease (pipeline/Relay), PX.
inline std::string relay_lease(std::string_view q) { return prefix(q) + "relay"; }
// STRING node id of the process whose admission ticker ticks the queue (store/Ticker, taken and
// renewed by lua/tick.lua with QueueStore::tick_leased), PX.
inline std::string tick_lease(std::string_view q) { return prefix(q) + "tick"; }

// Webhook jobs (webhooks/RedisJobStore), in their queue's slot (the hash tag {q}): every job
// script touches one queue's keys only. The one global key is the list of queues that have jobs.
inline constexpr std::string_view kWebhookQueues = "aq:wh:queues";  // SET queue names with jobs
// ZSET job id -> due ms (a claim's lease pushes it forward).
inline std::string webhook_due(std::string_view q) { return "aq:wh:{" + std::string(q) + "}:due"; }
// HASH job id -> job JSON.
inline std::string webhook_jobs(std::string_view q) {
  return "aq:wh:{" + std::string(q) + "}:jobs";
}
// The global job index of versions before Redis Cluster support (ZSET and HASH as above, all
// queues together): RedisJobStore moves jobs found there into their queue's keys.
inline constexpr std::string_view kLegacyWebhookDue = "aq:wh:due";
inline constexpr std::string_view kLegacyWebhookJobs = "aq:wh:jobs";
// STRING: the event was taken in (TTL): aq:wh:seen:{q}:<seq> for the event id "q:seq".
inline std::string webhook_seen(std::string_view event_id) {
  auto colon = event_id.rfind(':');
  return "aq:wh:seen:{" + std::string(event_id.substr(0, colon)) + "}:" +
         std::string(event_id.substr(colon + 1));
}
// HASH job id -> job JSON: the queue's dead letters (capped).
inline std::string webhook_dead(std::string_view q) { return "aq:wh:dead:{" + std::string(q) + "}"; }

// The on-sale (SPEC §7, README "The on-sale"). The draw of the queue's current epoch:
// HASH state (prequeue|drawn|void), seed and commit (hex), base (entrant at place p has order
// base + p), n (entrants, fixed at the draw or the close), head (the next place to admit: every
// place below it is gone), drawn_at (ms), cdrain (close drain cursor, a rank of `pre`, or
// "done"). No hash: no opens_at in this epoch (state none). Deleted by a reopen.
inline std::string draw(std::string_view q) { return prefix(q) + "draw"; }
// ZSET score 0, member = key (32 raw bytes, draw::key) + ticket id: the pre-queue, which Redis
// keeps in draw order (members compare by memcmp). Frozen at the draw: ZRANK + 1 = the place.
inline std::string pre(std::string_view q) { return prefix(q) + "pre"; }
// ZSET ticket id, score = place: drawn entrants at places >= the head at the time they ended
// (left, abandoned) or were skipped; only ever grows within an epoch, so a snapshot read after
// its info shows a superset of the gone places it needs.
inline std::string pgone(std::string_view q) { return prefix(q) + "pgone"; }
// ZSET the `pre` members of a closed epoch still to drain (reopened before the close drain of
// `pre` finished); drained by tick like `closing`.
inline std::string closing_pre(std::string_view q) { return prefix(q) + "closingpre"; }

// Bots pay, guests skip (SPEC §8).
// ZSET waiting skip-the-line ticket ids, score n (their order is rules::kSkipOrder + n; n from
// meta.sorders, never reused in the queue's life). Set aside into `closing` by a close.
inline std::string skip(std::string_view q) { return prefix(q) + "skip"; }
// HASH invite code -> "uses used expires_ms skip revoked created_ms label" (decimal; skip and
// revoked 0/1; the label, possibly empty, is the rest after the sixth space). lua/lib.lua
// parse_invite and redis/script_io.cpp encode_invite/decode_invite agree on it.
inline std::string invites(std::string_view q) { return prefix(q) + "inv"; }
// ZSET invite codes, all score 0: code order for ZRANGE BYLEX paging (list_invites).
inline std::string invite_codes(std::string_view q) { return prefix(q) + "invs"; }
// ZSET member = a used proof-of-work challenge id, score = the challenge's expiry (ms): used =
// ZSCORE present (join.lua); each tick removes the expired ones (a challenge past its expiry is
// refused anyway). The layout before had a STRING per challenge (pow_mark, standalone only: a
// join still checks it until it expires by itself).
inline std::string pow(std::string_view q) { return prefix(q) + "pow"; }
inline std::string pow_mark(std::string_view q, std::string_view id) {
  return prefix(q) + "pow:" + std::string(id);
}

// KEYS[1..21] of every queue script, in the order lua/lib.lua expects: one slot, the queue's.
// Every key a queue script touches is here: in a Redis Cluster, a script's call on an undeclared
// key of a slot being migrated fails halfway (src/store/README.md "Scripts during a slot
// migration"). `seen` is declared although only standalone deployments have it (one key list).
inline std::vector<std::string> script_keys(std::string_view q) {
  return {meta(q),        cfg(q),     wait(q),     active(q),      live(q),      dedupe(q),
          outbox(q),      closing(q), last_seq(q), pre(q),         pgone(q),     draw(q),
          closing_pre(q), skip(q),    invites(q),  invite_codes(q), ended0(q), ended1(q),
          pow(q),         tick_lease(q), seen(q)};
}

}  // namespace anteroom::redis_keys
