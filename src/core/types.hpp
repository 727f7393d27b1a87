#pragma once
// The queue model: tickets, events, queue configuration and statistics. Plain data, no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom {

// Milliseconds since the Unix epoch. Every store operation takes `now` from its caller so that
// the rules are deterministic under test and several processes agree within clock skew.
using Millis = int64_t;

enum class TicketState : uint8_t { waiting, active, ended };

enum class EndReason : uint8_t { none, left, expired, completed, abandoned, closed };

enum class EventType : uint8_t {
  joined,
  left,
  admitted,
  expired,
  completed,
  abandoned,
  config_changed,
  closed,   // the whole queue closed: every waiting ticket ended with reason "closed"
  entered,  // a pre-queue join (order = its arrival number; it has no place until the draw)
  drawn,    // the draw (queue-level): order = base (entrant at place p gets order base + p),
            // exp = the number of entrants
};

// How a queue lets visitors in (SPEC §7).
enum class Mode : uint8_t {
  fifo,         // the head of the line first
  random,       // each admission picks a uniformly random waiting visitor (a lottery)
  passthrough,  // every join admitted at once within max_active: the room installed but off
  reject,       // joins refused; the page shows the operator's message
};

// Where a queue's draw is (one per epoch: a reopen starts a new one).
enum class DrawState : uint8_t {
  none,      // no opens_at in this epoch
  prequeue,  // opens_at set, not yet drawn: joins enter the pre-queue
  drawn,     // the draw happened: entrants hold places 1..entrants ahead of later joins
  void_,     // closed before opens_at: no draw will happen
};

std::string_view to_string(TicketState s);
std::string_view to_string(EndReason r);
std::string_view to_string(EventType t);
std::optional<EventType> event_type_from(std::string_view s);
std::optional<EndReason> end_reason_from(std::string_view s);
std::optional<TicketState> ticket_state_from(std::string_view s);
std::string_view to_string(Mode m);
std::optional<Mode> mode_from(std::string_view s);
std::string_view to_string(DrawState d);  // "none" "prequeue" "drawn" "void"
std::optional<DrawState> draw_state_from(std::string_view s);

// What a ticket ending with this event was ended for (none if the event ends no ticket).
EndReason end_reason_of(EventType t);

// A subscriber of a queue's admitted/expired/completed/abandoned events (SPEC §5).
struct WebhookTarget {
  std::string url;     // http:// or https://
  std::string secret;  // HMAC-SHA256 key for the signature header; empty: unsigned
  bool operator==(const WebhookTarget&) const = default;
};

// Proof of work on joins (SPEC §8, docs/pow.md). bits = 0: off. The bits a join needs are
// rules::pow_required_bits: `bits`, plus (when `adaptive`) what the edge measured for the
// client's network and the queue's join rate (pow/meter.hpp), at most `max_bits`.
struct PowConfig {
  int bits = 0;               // base difficulty: leading zero bits of SHA-256(challenge:nonce)
  bool adaptive = true;       // add bits for busy networks and a surging queue
  int max_bits = 26;          // the cap of base + extra bits
  int64_t network_share = 30; // challenges + joins one network (IPv4 /24, IPv6 /56) may take
                              // in a window at the base bits; +1 bit per doubling beyond
  int64_t surge_per_s = 0;    // the queue's joins/s (this process) beyond which +1 bit per
                              // doubling; 0 = no surge rule
  int64_t window_s = 60;      // the window of both counts
  int64_t ttl_s = 120;        // how long a challenge may be used
  bool operator==(const PowConfig&) const = default;
};

struct QueueConfig {
  double admit_per_s = 10;        // tokens per second of the global admission bucket
  int64_t max_active = 100;       // cap on concurrently active sessions
  int64_t session_ttl_s = 600;    // how long an admission token is valid
  int64_t abandon_after_s = 120;  // a waiting ticket unseen this long is dropped
  bool paused = false;            // paused: nobody is admitted, joins still wait
  std::string target_url;         // where an admitted visitor is sent (token appended)
  std::vector<WebhookTarget> webhooks;
  // The on-sale schedule, Unix seconds, each optional (rules::validate_schedule).
  std::optional<int64_t> prequeue_at;  // joins before it are refused (not_open_yet)
  std::optional<int64_t> opens_at;     // the draw; nobody is admitted before it
  std::optional<int64_t> closes_at;    // the queue closes itself at this time
  Mode mode = Mode::fifo;
  std::string message;  // the operator's text every waiting page shows ("" = none)
  PowConfig pow;
  bool invite_only = false;  // every join needs an invite code (SPEC §8)
};

// A partial update from PUT /v1/queues/{q}; absent fields keep their value.
struct ConfigPatch {
  std::optional<double> admit_per_s;
  std::optional<int64_t> max_active;
  std::optional<int64_t> session_ttl_s;
  std::optional<int64_t> abandon_after_s;
  std::optional<bool> paused;
  std::optional<std::string> target_url;
  std::optional<std::vector<WebhookTarget>> webhooks;
  // Outer optional: the field was given; inner nullopt: `null`, which unsets it.
  std::optional<std::optional<int64_t>> prequeue_at;
  std::optional<std::optional<int64_t>> opens_at;
  std::optional<std::optional<int64_t>> closes_at;
  std::optional<Mode> mode;
  std::optional<std::string> message;
  std::optional<PowConfig> pow;  // replaced whole: fields the PUT leaves out take defaults
  std::optional<bool> invite_only;

  bool touches_schedule() const { return prequeue_at || opens_at; }
  void apply_to(QueueConfig& c) const;
};

struct Ticket {
  std::string id;
  std::string queue;
  TicketState state = TicketState::waiting;
  EndReason reason = EndReason::none;
  uint64_t order = 0;    // join order within the queue: the key of the position index
  Millis joined_ms = 0;
  Millis admitted_ms = 0;
  Millis expires_ms = 0;  // active: when the admission token expires
  int64_t position = 0;   // waiting: 1 + waiting tickets ahead; else 0
  uint64_t seq = 0;       // the queue seq this view was read at
  bool created = false;   // join() only: this call made the ticket (not a re-join)
  // A pre-queue entrant (joined between prequeue_at and opens_at). Waiting with place 0: in the
  // pre-queue, shown as status "prequeue"; after the draw its place (1-based) in the draw.
  bool entrant = false;
  int64_t place = 0;
  // Joined with a skip-the-line invite code: waits ahead of the whole line (order >=
  // rules::kSkipOrder), admitted as soon as max_active allows (rules::skip_admission_count).
  bool skip = false;
};

// What the edge found of a join's proof of work (pow/challenge.hpp checks the signature, the
// queue, the expiry and the hash; the store decides whether the queue needs one and marks the
// challenge used, atomically with the join).
enum class PowVerdict : uint8_t {
  none,          // no proof in the join
  valid,         // signed by us for this queue, not expired, hash meets the challenge's bits
  invalid,       // malformed or not signed by us (forged)
  wrong_queue,   // signed for another queue
  expired,       // past its expiry
  insufficient,  // the hash has fewer leading zero bits than the challenge asks
};

std::string_view to_string(PowVerdict v);  // "none" "valid" "invalid" "wrong_queue" ...

struct PowProof {
  PowVerdict verdict = PowVerdict::none;
  int bits = 0;          // valid: the challenge's bits
  std::string id;        // valid: the challenge's id (22 chars base64url): single use
  Millis expires_ms = 0;  // valid: the challenge's expiry; the used mark lasts until then
  int extra_bits = 0;    // what the edge measured for this client's network and the queue's surge
};

// A join's request. Converts from a plain dedupe key (most callers have nothing else).
struct JoinRequest {
  JoinRequest() = default;
  JoinRequest(std::string dedupe) : dedupe_key(std::move(dedupe)) {}
  JoinRequest(const char* dedupe) : dedupe_key(dedupe) {}
  std::string dedupe_key;  // "u:<user>" or "k:<Idempotency-Key>"; "" = none
  std::string invite;      // an invite code (rules::valid_invite_code), "" = none
  PowProof pow;
};

// An invite code of a queue (SPEC §8): `uses` joins in all, across every process.
struct Invite {
  std::string code;       // rules::kInviteCodeLen characters of rules::kInviteAlphabet
  int64_t uses = 1;       // joins it allows in all
  int64_t used = 0;       // joins made with it
  Millis expires_ms = 0;  // 0: never
  bool skip = false;      // its holder skips the line (still within max_active)
  bool revoked = false;
  Millis created_ms = 0;
  std::string label;      // the operator's note (e.g. "members"), at most 100 characters
  bool operator==(const Invite&) const = default;
};

// POST /v1/queues/{q}/invites: mint `count` codes alike.
struct InviteSpec {
  int64_t count = 1;      // 1 .. rules::kMaxInviteMint
  int64_t uses = 1;       // 1 .. rules::kMaxInviteUses
  Millis expires_ms = 0;  // 0: never
  bool skip = false;
  std::string label;
};

// One committed change of a queue. Between processes it travels in one wire form, encoded once
// where it is made (core/event_codec.hpp); within a process it is this struct.
struct Event {
  std::string queue;
  uint64_t seq = 0;
  EventType type = EventType::joined;
  std::string ticket;     // empty for queue-level events
  uint64_t order = 0;     // the ticket's join order (position index key)
  Millis at_ms = 0;
  Millis expires_ms = 0;  // admitted: token expiry

  std::string id() const { return queue + ":" + std::to_string(seq); }
};

struct QueueStats {
  int64_t waiting = 0;
  int64_t active = 0;
  int64_t admitted_total = 0;
  int64_t abandoned_total = 0;
  int64_t expired_total = 0;
  int64_t completed_total = 0;
  int64_t left_total = 0;
  int64_t joined_total = 0;  // tickets ever created in the line or pre-queue (not dedupe replies)
  Millis oldest_joined_ms = 0;  // joined_ms of the head of the line (0 if nobody waits)
};

// The public state of a queue's draw (GET /v1/queues/{q}/draw). The seed is only ever filled
// in once the draw is done.
struct DrawInfo {
  DrawState state = DrawState::none;
  std::string commitment;  // hex SHA-256 of the seed; "" when state is none
  std::string seed;        // hex; drawn only
  int64_t entrants = 0;    // prequeue: entrants so far; drawn/void: fixed at the draw/close
  uint64_t base = 0;       // drawn: the entrant at place p has order base + p
  Millis drawn_at_ms = 0;
};

struct QueueInfo {
  std::string name;
  QueueConfig config;
  bool closed = false;
  uint64_t seq = 0;
  QueueStats stats;  // after the draw `waiting` counts the waiting entrants too
  DrawInfo draw;     // without the seed
};

// One page of a drawn queue's published order: the entry ids of places after+1, after+2, ...
struct DrawPage {
  DrawInfo info;  // with the seed once drawn
  std::vector<std::string> entries;
};

// The state one process needs to rebuild its view of a queue (position index, active set).
struct QueueSnapshot {
  QueueInfo info;
  // Ascending join order. Pre-queue entrants are not in the line until the draw; after it, the
  // waiting ones are here with their orders base + place.
  std::vector<uint64_t> waiting_orders;
};

}  // namespace anteroom
