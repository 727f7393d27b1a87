#include "pipeline/event_codec.hpp"

#include <boost/json.hpp>

#include "core/rules.hpp"

namespace anteroom {

namespace json = boost::json;

std::string encode_event(const Event& e) {
  json::object o;
  o["queue"] = e.queue;
  o["seq"] = e.seq;
  o["type"] = to_string(e.type);
  o["ticket"] = e.ticket;
  o["order"] = e.order;
  o["at"] = e.at_ms;
  o["exp"] = e.expires_ms;
  return json::serialize(o);
}

Result<Event> decode_event(std::string_view s) {
  auto bad = [](std::string m) { return err(Errc::bad_request, "event: " + std::move(m)); };
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  if (ec || !v.is_object()) return bad("not a JSON object");
  const auto& o = v.as_object();
  auto str = [&](const char* k) -> const json::string* {
    auto* p = o.if_contains(k);
    return p && p->is_string() ? &p->as_string() : nullptr;
  };
  auto num = [&](const char* k, int64_t& out) {
    auto* p = o.if_contains(k);
    if (!p) return false;
    if (p->is_int64()) out = p->as_int64();
    else if (p->is_uint64()) out = static_cast<int64_t>(p->as_uint64());
    else return false;
    return true;
  };
  Event e;
  auto* q = str("queue");
  auto* t = str("type");
  auto* tk = str("ticket");
  int64_t seq, order, at, exp;
  if (!q || !t || !tk || !num("seq", seq) || !num("order", order) || !num("at", at) ||
      !num("exp", exp))
    return bad("missing or mistyped field");
  auto type = event_type_from(*t);
  if (!type) return bad("unknown type");
  if (!rules::valid_queue_name(*q) || seq <= 0) return bad("bad queue or seq");
  e.queue = std::string(*q);
  e.seq = static_cast<uint64_t>(seq);
  e.type = *type;
  e.ticket = std::string(*tk);
  e.order = static_cast<uint64_t>(order);
  e.at_ms = at;
  e.expires_ms = exp;
  return e;
}

}  // namespace anteroom
