#include "hub/sse_frames.hpp"

#include "views/views.hpp"

namespace anteroom::sse {

std::string frame(std::string_view event, uint64_t id, std::string_view data) {
  std::string f;
  f.reserve(32 + event.size() + data.size());
  f += "id: ";
  f += std::to_string(id);
  f += "\nevent: ";
  f += event;
  f += "\ndata: ";
  f += data;
  f += "\n\n";
  return f;
}

std::string position(uint64_t id, int64_t position, int64_t eta_s, bool paused) {
  return frame("position", id, views::position_json(position, eta_s, paused));
}

std::string admitted(uint64_t id, const Admission& a) {
  return frame("admitted", id, views::admission_json(a));
}

std::string ended(uint64_t id, EndReason r) { return frame("ended", id, views::ended_json(r)); }

std::string prequeue(uint64_t id, int64_t opens_at, int64_t seconds_left, int64_t entrants,
                     std::string_view entry_id) {
  return frame("prequeue", id, views::prequeue_json(opens_at, seconds_left, entrants, entry_id));
}

std::string drawn(uint64_t id, int64_t place, int64_t entrants, int64_t position, int64_t eta_s) {
  return frame("drawn", id, views::drawn_json(place, entrants, position, eta_s));
}

std::string message(uint64_t id, std::string_view message) {
  return frame("message", id, views::message_json(message));
}

std::string lottery(uint64_t id, int64_t waiting, int64_t eta_min_s, int64_t eta_max_s) {
  return frame("lottery", id, views::lottery_json(waiting, eta_min_s, eta_max_s));
}

std::string replaced() { return "event: replaced\ndata: {\"reason\":\"replaced\"}\n\n"; }

std::string retry(std::chrono::milliseconds after) {
  return "retry: " + std::to_string(after.count()) + "\n\n";
}

bool same_payload(std::string_view a, std::string_view b) {
  auto body = [](std::string_view f) { return f.substr(std::min(f.find('\n'), f.size())); };
  return !b.empty() && body(a) == body(b);
}

}  // namespace anteroom::sse
