#pragma once
// Decoding of outbox stream entries (aq:{q}:outbox), shared by the store's tests and the relay
// that drains the outbox. Pure functions, thread-safe.
#include <string>

#include "core/error.hpp"
#include "core/types.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom::redis {

// `fields` is an entry's field list as XRANGE/XREADGROUP return it: [f1, v1, f2, v2, ...] with
// fields seq, type, ticket, order, at, exp. Unknown fields are ignored (forward compatible);
// a missing or malformed known field is Errc::internal.
Result<Event> parse_outbox_fields(const std::string& queue, const RedisReply& fields);

// An XRANGE reply ([[id, fields], ...]) decoded in stream order.
Result<std::vector<Event>> parse_outbox_range(const std::string& queue, const RedisReply& range);

}  // namespace anteroom::redis
