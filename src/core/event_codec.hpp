#pragma once
// The one wire form of an Event, made once where the event is made and carried as the same bytes
// from there to every process: the outbox entry (field `event`, written by lua/lib.lua `emit`),
// the Kafka message value, the Redis Pub/Sub message. It is a JSON object with these keys in
// this order and nothing else (no spaces, integers in decimal):
//
//   {"queue":"q","seq":7,"type":"admitted","ticket":"<22 chars>","order":3,"at":1700000000000,"exp":1700000600000}
//
// `ticket` is "" for queue-level events (config_changed, closed). Strings need no escaping: queue
// names are [a-z0-9-], ticket ids base64url, types the names of EventType.
//
// The Lua encoder (store/lua/lib.lua) and encode_event() produce identical bytes (checked by
// redis_store_redistest); decode_event() accepts exactly this layout, so a process decodes an
// event once, where it consumes it, with no general JSON parser. Pure functions, thread-safe.
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/types.hpp"

namespace anteroom {

std::string encode_event(const Event& e);
// Errc::bad_request on anything that is not an event in exactly the layout above.
Result<Event> decode_event(std::string_view bytes);

}  // namespace anteroom
