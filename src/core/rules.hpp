#pragma once
// The queue rules, written once. Both stores call these; the Redis store's Lua scripts mirror
// admission_count() and the conformance suite (src/store/conformance) holds them to it.
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "core/types.hpp"

namespace anteroom::rules {

constexpr size_t kMaxQueueName = 64;
constexpr size_t kMaxUserKey = 256;
constexpr double kMaxAdmitPerS = 1'000'000;
constexpr int64_t kMaxActive = 100'000'000;
constexpr int64_t kMaxTtlS = 7 * 24 * 3600;
constexpr size_t kMaxTargetUrl = 2048;
constexpr size_t kMaxWebhooks = 8;
constexpr size_t kMaxWebhookSecret = 256;
constexpr size_t kMaxMessageChars = 500;     // QueueConfig::message, in code points
constexpr int64_t kMinUnixS = 946'684'800;    // schedule times: 2000-01-01 ..
constexpr int64_t kMaxUnixS = 4'102'444'800;  // .. 2100-01-01
// Ended tickets stay readable (GET shows the reason) this long, then are forgotten.
constexpr Millis kEndedRetentionMs = 3600 * 1000;

// [a-z0-9][a-z0-9-]{0,63}
bool valid_queue_name(std::string_view name);
// 22 characters of base64url: the encoding of 128 random bits.
bool valid_ticket_id(std::string_view id);
// Checks a patch's values against their bounds (rate >= 0, ttl >= 1, url http(s), schedule
// times within [kMinUnixS, kMaxUnixS], message valid UTF-8 of at most 500 code points with no
// control character but a line break ...).
Status validate(const ConfigPatch& p);

// ---- The on-sale (SPEC §7): schedule, phases, the pre-queue and the draw ----------------------
//
// A queue's schedule as merged (current config + patch) must hold: prequeue_at needs opens_at;
// prequeue_at <= opens_at < closes_at; prequeue_at < closes_at. (opens_at without prequeue_at:
// the pre-queue is open from the moment the schedule is set.)
Status validate_schedule(const QueueConfig& merged);
// Whether `p` may change the schedule of the queue as it is now (409 schedule_locked if not):
// prequeue_at/opens_at cannot change once the epoch's draw is done, nor be set on a queue whose
// line is not empty (a running line cannot become an on-sale under its visitors); during the
// pre-queue opens_at may move (a delayed sale) but not be removed (close the queue to cancel).
// closes_at, mode and message may change at any time.
Status check_schedule_change(const QueueInfo& current, const ConfigPatch& p);

enum class Phase : uint8_t {
  before,    // now < prequeue_at: joins refused (not_open_yet)
  prequeue,  // opens_at set and not reached: joins enter the pre-queue, nobody is admitted
  open,      // drawn, or no opens_at: the line runs
  closed,    // now >= closes_at: joins refused (queue_closed); the next tick closes the queue
};
// Where a queue is at `now`. A store that finds draw_due() draws first (settles), then asks.
Phase phase(const QueueConfig& c, DrawState d, Millis now);
// What the operator's dashboard shows a queue as (SPEC §9): "closed" (closed, or closes_at
// reached), "scheduled" (before prequeue_at), "prequeue", "paused", else "open". The mode is
// shown beside it.
std::string_view queue_state(const QueueInfo& q, Millis now);
// The draw is due: the pre-queue is open and opens_at has come.
inline bool draw_due(const QueueConfig& c, DrawState d, Millis now) {
  return d == DrawState::prequeue && c.opens_at && now >= *c.opens_at * 1000;
}

enum class JoinRule : uint8_t {
  refuse_closed,     // 410 queue_closed (closes_at reached)
  refuse_rejecting,  // 403 joins_refused (mode reject, in every phase)
  refuse_not_open,   // 403 not_open_yet (before prequeue_at)
  enter_prequeue,    // joins the pre-queue: no position until the draw
  join_line,         // joins the line at the back
};
// What a new join does (a dedupe hit on a live ticket is not a join: it returns that ticket).
JoinRule join_rule(Phase ph, Mode m);
// The error of a refusing rule, with the details a client needs (the times, the message).
Error join_refusal(JoinRule r, const QueueConfig& c, Millis now);

// Last-seen time at or before which a waiting ticket is abandoned now, or none. A pre-queue
// entrant's clock starts at the draw: a laptop closed during the countdown keeps its entry, so
// there is no cutoff before the draw nor one earlier than the draw's time.
std::optional<Millis> abandon_cutoff(const QueueConfig& c, DrawState d, Millis drawn_at_ms,
                                     Millis now);

// The 10th and 90th percentile of the wait of a visitor in a lottery (mode random) of `waiting`
// visitors admitted at `observed_rate` (or the configured one): uniform over [0, waiting/rate].
// {-1, -1} when unknown (paused or no capacity).
struct EtaRange {
  int64_t min_s = 0;
  int64_t max_s = 0;
};
EtaRange lottery_eta(int64_t waiting, double observed_rate, const QueueConfig& c);

// Whole seconds until `at_s` (Unix seconds), rounded up: 0 only once it has come. The pre-queue's
// countdown (the join's answer and the SSE `prequeue` frames).
inline int64_t seconds_until(int64_t at_s, Millis now) {
  int64_t left = (at_s * 1000 - now + 999) / 1000;
  return left > 0 ? left : 0;
}

// Webhook lists as one string for stores that keep config as flat fields: one "url\tsecret"
// line per hook (validate() guarantees neither contains a tab or a line break).
std::string encode_webhooks(const std::vector<WebhookTarget>& hooks);
std::vector<WebhookTarget> decode_webhooks(std::string_view s);
// Which events are POSTed to webhooks.
inline bool webhook_event(EventType t) {
  return t == EventType::admitted || t == EventType::expired || t == EventType::completed ||
         t == EventType::abandoned;
}

// ---- Bots pay, guests skip (SPEC §8, docs/pow.md, docs/invites.md) ---------------------------

constexpr int kMaxPowBits = 32;             // PowConfig bits/max_bits: 0..32
// The bits of "pow": true (or a pow object without "bits"): chosen from bench 9 (docs/pow.md).
constexpr int kDefaultPowBits = 18;
constexpr int64_t kMaxPowShare = 1'000'000;  // network_share: 1..
constexpr int64_t kMaxPowWindowS = 3600;     // window_s: 1..
constexpr int64_t kMaxPowTtlS = 3600;        // ttl_s: 10..
constexpr int64_t kMinPowTtlS = 10;
// The bits a join needs now: 0 if the queue's proof of work is off (bits 0); else `bits`, plus
// `extra` (the edge's measure of the client's network and the queue's surge) when adaptive,
// at most max_bits (and never below bits).
int pow_required_bits(const PowConfig& c, int extra);
// Whether a join with `proof` may go on when `required` bits are needed: none, or the refusal
// (pow_required, pow_invalid, pow_wrong_queue, pow_expired, pow_insufficient, with detail
// "bits": required). Single use (pow_used) is the store's own check, after this one. A queue
// needing no proof (required 0) ignores whatever proof comes.
std::optional<Error> pow_refusal(int required, const PowProof& proof);
// PowConfig as one flat string for stores that keep config as flat fields:
// "bits adaptive max_bits network_share surge_per_s window_s ttl_s" (decimal, space-separated;
// adaptive 0/1). decode_pow of anything malformed (not exactly seven such fields) gives the
// defaults.
std::string encode_pow(const PowConfig& c);
PowConfig decode_pow(std::string_view s);

// Invite codes: 16 characters of Crockford's base32 alphabet (80 random bits), upper case.
inline constexpr std::string_view kInviteAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kInviteCodeLen = 16;
constexpr int64_t kMaxInviteMint = 10'000;         // codes per POST
constexpr int64_t kMaxInvitesPerQueue = 100'000;   // codes a queue holds (revoked included)
constexpr int64_t kMaxInviteUses = 1'000'000;
constexpr size_t kMaxInviteLabel = 100;            // bytes
bool valid_invite_code(std::string_view code);
// A code as a person may type it: upper-cased, '-' and spaces dropped, O read as 0 and I, L as 1
// (Crockford's decoding). "" if it cannot be one.
std::string normalize_invite_code(std::string_view typed);
// Why `inv` (null: no such code) cannot be used for a join now, or none. Checked in this order:
// invite_invalid (null), invite_revoked, invite_expired (expires_ms && now >= expires_ms),
// invite_used_up (used >= uses).
std::optional<Error> invite_refusal(const Invite* inv, Millis now);
// Checks an InviteSpec's bounds (bad_request).
Status validate(const InviteSpec& s, Millis now);

// A skip-the-line ticket's order: kSkipOrder + n, n = 1, 2, ... per queue (exact as a double,
// so Redis scores and Lua numbers hold it). Every line order is below it, so a position index
// of line orders never sees one; the skippers wait ahead of the whole line, first come first.
constexpr uint64_t kSkipOrder = uint64_t{1} << 52;
inline bool is_skip(uint64_t order) { return order >= kSkipOrder; }
// How many waiting skippers to admit now: none while paused or before the draw (phase other
// than open), else as many as max_active allows. They take no tokens from the bucket (the rate
// is for the line); the line's admission_count then sees the new `active`.
int64_t skip_admission_count(const QueueConfig& c, Phase ph, int64_t active, int64_t skippers);

// Token bucket of the admission rate: `tokens` refill at admit_per_s, capped at one second's
// worth (at least 1), so a queue that was idle admits at most one second's batch at once.
struct Bucket {
  double tokens = 0;
  Millis last_ms = 0;
};

// A new queue's bucket: full (one second's worth, at least one token; none at rate 0), so the
// first visitor of an idle queue with room is let in at once.
inline Bucket full_bucket(const QueueConfig& c, Millis now) {
  return Bucket{c.admit_per_s <= 0 ? 0.0 : c.admit_per_s > 1 ? c.admit_per_s : 1.0, now};
}

// Refills `b` up to `now` and returns how many tickets to admit now, consuming that many tokens.
// Never more than waiting, never letting active exceed max_active, zero when paused.
// Mode passthrough ignores the bucket: as many as max_active allows. (Nobody is admitted before
// the draw: entrants are not in the line until then.)
int64_t admission_count(Bucket& b, const QueueConfig& c, int64_t active, int64_t waiting,
                        Millis now);

// A ticket is abandoned when nobody has looked at it (stream or poll) for abandon_after_s.
inline bool abandoned(Millis last_seen_ms, const QueueConfig& c, Millis now) {
  return last_seen_ms + c.abandon_after_s * 1000 <= now;
}

// A closed queue is forgotten (its data deleted, its name free) once its sessions have ended and
// its visitors have had their chance to see the close: no active session left and the close at
// least abandon_after_s old. A visitor still looking learns of it within that time (an open
// stream at once; a page that polls less often would have been abandoned anyway), so a GET of a
// ticket says "ended, closed" until then, and 404 after. The tick decides; both stores ask this.
inline bool forgettable(Millis closed_ms, int64_t active, const QueueConfig& c, Millis now) {
  return active == 0 && closed_ms + c.abandon_after_s * 1000 <= now;
}

inline Millis expiry_of(Millis admitted_ms, const QueueConfig& c) {
  return admitted_ms + c.session_ttl_s * 1000;
}

// Smoothed observed admission rate (per second), for ETAs. Feed it every admission.
class RateEstimator {
 public:
  void record(Millis at_ms, int64_t count = 1);
  // Observed rate, or -1 when nothing was admitted in the recent window.
  double rate(Millis now) const;

 private:
  void roll(Millis now) const;
  mutable double ewma_ = -1;     // per second
  mutable Millis bucket_start_ = 0;
  mutable int64_t bucket_count_ = 0;
  mutable Millis last_admit_ms_ = 0;
};

// Seconds until a visitor at `position` is let in: position / rate, where rate is the observed
// one when there is one, else the configured one. -1 when unknown (paused or no capacity).
int64_t eta_seconds(int64_t position, double observed_rate, const QueueConfig& c);

}  // namespace anteroom::rules
