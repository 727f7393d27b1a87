#include "core/types.hpp"

#include <array>

namespace anteroom {
namespace {
constexpr std::array<std::string_view, 3> kStates{"waiting", "active", "ended"};
constexpr std::array<std::string_view, 6> kReasons{"none",    "left",      "expired",
                                                   "completed", "abandoned", "closed"};
constexpr std::array<std::string_view, 10> kEvents{
    "joined", "left", "admitted", "expired", "completed", "abandoned", "config_changed",
    "closed", "entered", "drawn"};
constexpr std::array<std::string_view, 4> kModes{"fifo", "random", "passthrough", "reject"};
constexpr std::array<std::string_view, 4> kDrawStates{"none", "prequeue", "drawn", "void"};
constexpr std::array<std::string_view, 6> kPowVerdicts{"none",        "valid",   "invalid",
                                                       "wrong_queue", "expired", "insufficient"};

template <class E, size_t N>
std::optional<E> find(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}
}  // namespace

std::string_view to_string(TicketState s) { return kStates[static_cast<size_t>(s)]; }
std::string_view to_string(EndReason r) { return kReasons[static_cast<size_t>(r)]; }
std::string_view to_string(EventType t) { return kEvents[static_cast<size_t>(t)]; }
std::optional<EventType> event_type_from(std::string_view s) { return find<EventType>(kEvents, s); }
std::optional<EndReason> end_reason_from(std::string_view s) { return find<EndReason>(kReasons, s); }
std::optional<TicketState> ticket_state_from(std::string_view s) {
  return find<TicketState>(kStates, s);
}

std::string_view to_string(Mode m) { return kModes[static_cast<size_t>(m)]; }
std::optional<Mode> mode_from(std::string_view s) { return find<Mode>(kModes, s); }
std::string_view to_string(PowVerdict v) { return kPowVerdicts[static_cast<size_t>(v)]; }
std::string_view to_string(DrawState d) { return kDrawStates[static_cast<size_t>(d)]; }
std::optional<DrawState> draw_state_from(std::string_view s) {
  return find<DrawState>(kDrawStates, s);
}

EndReason end_reason_of(EventType t) {
  switch (t) {
    case EventType::left: return EndReason::left;
    case EventType::expired: return EndReason::expired;
    case EventType::completed: return EndReason::completed;
    case EventType::abandoned: return EndReason::abandoned;
    case EventType::closed: return EndReason::closed;
    default: return EndReason::none;
  }
}

void ConfigPatch::apply_to(QueueConfig& c) const {
  if (admit_per_s) c.admit_per_s = *admit_per_s;
  if (max_active) c.max_active = *max_active;
  if (session_ttl_s) c.session_ttl_s = *session_ttl_s;
  if (abandon_after_s) c.abandon_after_s = *abandon_after_s;
  if (paused) c.paused = *paused;
  if (target_url) c.target_url = *target_url;
  if (webhooks) c.webhooks = *webhooks;
  if (prequeue_at) c.prequeue_at = *prequeue_at;
  if (opens_at) c.opens_at = *opens_at;
  if (closes_at) c.closes_at = *closes_at;
  if (mode) c.mode = *mode;
  if (message) c.message = *message;
  if (pow) c.pow = *pow;
  if (invite_only) c.invite_only = *invite_only;
}

}  // namespace anteroom
