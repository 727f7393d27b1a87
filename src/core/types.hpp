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
  closed,  // the whole queue closed: every waiting ticket ended with reason "closed"
};

std::string_view to_string(TicketState s);
std::string_view to_string(EndReason r);
std::string_view to_string(EventType t);
std::optional<EventType> event_type_from(std::string_view s);
std::optional<EndReason> end_reason_from(std::string_view s);
std::optional<TicketState> ticket_state_from(std::string_view s);

// What a ticket ending with this event was ended for (none if the event ends no ticket).
EndReason end_reason_of(EventType t);

// A subscriber of a queue's admitted/expired/completed/abandoned events (SPEC §5).
struct WebhookTarget {
  std::string url;     // http:// or https://
  std::string secret;  // HMAC-SHA256 key for the signature header; empty: unsigned
  bool operator==(const WebhookTarget&) const = default;
};

struct QueueConfig {
  double admit_per_s = 10;        // tokens per second of the global admission bucket
  int64_t max_active = 100;       // cap on concurrently active sessions
  int64_t session_ttl_s = 600;    // how long an admission token is valid
  int64_t abandon_after_s = 120;  // a waiting ticket unseen this long is dropped
  bool paused = false;            // paused: nobody is admitted, joins still wait
  std::string target_url;         // where an admitted visitor is sent (token appended)
  std::vector<WebhookTarget> webhooks;
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
  Millis oldest_joined_ms = 0;  // joined_ms of the head of the line (0 if nobody waits)
};

struct QueueInfo {
  std::string name;
  QueueConfig config;
  bool closed = false;
  uint64_t seq = 0;
  QueueStats stats;
};

// The state one process needs to rebuild its view of a queue (position index, active set).
struct QueueSnapshot {
  QueueInfo info;
  std::vector<uint64_t> waiting_orders;  // ascending join order
};

}  // namespace anteroom
