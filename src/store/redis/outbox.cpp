#include "store/redis/outbox.hpp"

namespace anteroom::redis {

Result<Event> parse_outbox_fields(const std::string& queue, const RedisReply& fields) {
  if (!fields.is_array() || fields.elements.size() % 2 != 0)
    return err(Errc::internal, "outbox entry is not a field list");
  Event e;
  e.queue = queue;
  bool has_seq = false, has_type = false;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    const std::string& name = fields.elements[i].str;
    const RedisReply& v = fields.elements[i + 1];
    auto num = [&](auto& out) {
      auto n = v.as_int();
      if (n) out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
      return n.has_value();
    };
    bool ok = true;
    if (name == "seq") {
      ok = num(e.seq);
      has_seq = true;
    } else if (name == "type") {
      auto t = event_type_from(v.str);
      ok = t.has_value();
      if (t) e.type = *t;
      has_type = true;
    } else if (name == "ticket") {
      e.ticket = v.str;
    } else if (name == "order") {
      ok = num(e.order);
    } else if (name == "at") {
      ok = num(e.at_ms);
    } else if (name == "exp") {
      ok = num(e.expires_ms);
    }
    if (!ok) return err(Errc::internal, "outbox entry has a malformed field '" + name + "'");
  }
  if (!has_seq || !has_type) return err(Errc::internal, "outbox entry lacks seq or type");
  return e;
}

Result<std::vector<Event>> parse_outbox_range(const std::string& queue, const RedisReply& range) {
  if (!range.is_array()) return err(Errc::internal, "outbox range is not an array");
  std::vector<Event> out;
  out.reserve(range.elements.size());
  for (auto& entry : range.elements) {
    if (!entry.is_array() || entry.elements.size() != 2)
      return err(Errc::internal, "outbox entry is not [id, fields]");
    auto e = parse_outbox_fields(queue, entry.elements[1]);
    if (!e) return e.error();
    out.push_back(std::move(e).value());
  }
  return out;
}

}  // namespace anteroom::redis
