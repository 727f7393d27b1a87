#include "core/event_codec.hpp"

#include <charconv>

#include "core/rules.hpp"

namespace anteroom {

std::string encode_event(const Event& e) {
  std::string out;
  out.reserve(128 + e.queue.size());
  auto num = [&](auto v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  };
  out += R"({"queue":")";
  out += e.queue;
  out += R"(","seq":)";
  num(e.seq);
  out += R"(,"type":")";
  out += to_string(e.type);
  out += R"(","ticket":")";
  out += e.ticket;
  out += R"(","order":)";
  num(e.order);
  out += R"(,"at":)";
  num(e.at_ms);
  out += R"(,"exp":)";
  num(e.expires_ms);
  out += '}';
  return out;
}

namespace {

// Reads the fixed layout front to back; any deviation fails.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool lit(std::string_view l) {
    if (s_.substr(0, l.size()) != l) return false;
    s_.remove_prefix(l.size());
    return true;
  }
  // Up to the closing quote (consumed); no escapes or control characters in the format.
  bool str(std::string_view& out) {
    size_t i = 0;
    while (i < s_.size() && s_[i] != '"') {
      if (s_[i] == '\\' || static_cast<unsigned char>(s_[i]) < 0x20) return false;
      ++i;
    }
    if (i == s_.size()) return false;
    out = s_.substr(0, i);
    s_.remove_prefix(i + 1);
    return true;
  }
  template <class T>
  bool num(T& out) {
    auto r = std::from_chars(s_.data(), s_.data() + s_.size(), out);
    if (r.ec != std::errc() || r.ptr == s_.data()) return false;
    s_.remove_prefix(static_cast<size_t>(r.ptr - s_.data()));
    return true;
  }
  bool done() const { return s_.empty(); }

 private:
  std::string_view s_;
};

}  // namespace

Result<Event> decode_event(std::string_view bytes) {
  Reader r(bytes);
  std::string_view queue, type, ticket;
  Event e;
  bool ok = r.lit(R"({"queue":")") && r.str(queue) && r.lit(R"(,"seq":)") && r.num(e.seq) &&
            r.lit(R"(,"type":")") && r.str(type) && r.lit(R"(,"ticket":")") && r.str(ticket) &&
            r.lit(R"(,"order":)") && r.num(e.order) && r.lit(R"(,"at":)") && r.num(e.at_ms) &&
            r.lit(R"(,"exp":)") && r.num(e.expires_ms) && r.lit("}") && r.done();
  if (!ok) return err(Errc::bad_request, "event: not in the event layout");
  auto t = event_type_from(type);
  if (!t) return err(Errc::bad_request, "event: unknown type");
  if (!rules::valid_queue_name(queue) || e.seq == 0)
    return err(Errc::bad_request, "event: bad queue or seq");
  e.queue = std::string(queue);
  e.type = *t;
  e.ticket = std::string(ticket);
  return e;
}

}  // namespace anteroom
