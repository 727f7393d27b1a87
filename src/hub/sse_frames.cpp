#include "hub/sse_frames.hpp"

#include <boost/json.hpp>
#include <cstdio>

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
  // snprintf, not a JSON object: this frame is made for every moved stream of a fan-out.
  char data[128];
  int n = std::snprintf(data, sizeof data, "{\"position\":%lld,\"eta_s\":%lld,\"paused\":%s}",
                        static_cast<long long>(position), static_cast<long long>(eta_s),
                        paused ? "true" : "false");
  return frame("position", id, std::string_view(data, static_cast<size_t>(n)));
}

std::string admitted(uint64_t id, const Admission& a) {
  boost::json::object o;
  o["token"] = a.token;
  o["expires_at"] = a.expires_at;
  o["redirect"] = a.redirect;
  return frame("admitted", id, boost::json::serialize(o));
}

std::string ended(uint64_t id, EndReason r) {
  return frame("ended", id, "{\"reason\":\"" + std::string(to_string(r)) + "\"}");
}

std::string retry(std::chrono::milliseconds after) {
  return "retry: " + std::to_string(after.count()) + "\n\n";
}

bool same_payload(std::string_view a, std::string_view b) {
  auto body = [](std::string_view f) { return f.substr(std::min(f.find('\n'), f.size())); };
  return !b.empty() && body(a) == body(b);
}

}  // namespace anteroom::sse
