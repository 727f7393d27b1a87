#pragma once
// Reading outbox stream entries (aq:{q}:outbox): each holds one event in its wire form
// (core/event_codec.hpp) under the field redis_keys::kOutboxField. Used by the relay (which
// forwards the bytes untouched), the outbox tailer and the store's tests. Pure, thread-safe.
#include <string>

#include "core/error.hpp"
#include "core/types.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom::redis {

// The encoded event in an entry's field list as XRANGE/XREAD return it ([f1, v1, ...]);
// nullptr if the entry has no event field.
const std::string* outbox_event_bytes(const RedisReply& fields);

// The entry's event, decoded. Errc::internal if it has no event field, the bytes do not decode,
// or the event belongs to another queue than `queue` (the stream's).
Result<Event> parse_outbox_fields(const std::string& queue, const RedisReply& fields);

// An XRANGE reply ([[id, fields], ...]) decoded in stream order.
Result<std::vector<Event>> parse_outbox_range(const std::string& queue, const RedisReply& range);

}  // namespace anteroom::redis
