#include "store/redis/outbox.hpp"

#include "core/event_codec.hpp"
#include "store/redis/keys.hpp"

namespace anteroom::redis {

const std::string* outbox_event_bytes(const RedisReply& fields) {
  if (!fields.is_array()) return nullptr;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2)
    if (fields.elements[i].str == redis_keys::kOutboxField) return &fields.elements[i + 1].str;
  return nullptr;
}

Result<Event> parse_outbox_fields(const std::string& queue, const RedisReply& fields) {
  const std::string* bytes = outbox_event_bytes(fields);
  if (!bytes) return err(Errc::internal, "outbox entry has no event field");
  auto e = decode_event(*bytes);
  if (!e) return err(Errc::internal, "outbox entry: " + e.error().message);
  if (e->queue != queue)
    return err(Errc::internal, "outbox of " + queue + " holds an event of " + e->queue);
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
