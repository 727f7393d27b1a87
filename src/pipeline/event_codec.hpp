#pragma once
// The wire form of an Event on Kafka and Redis Pub/Sub: a small JSON object
// {"queue","seq","type","ticket","order","at","exp"}. Pure functions, thread-safe.
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/types.hpp"

namespace anteroom {

std::string encode_event(const Event& e);
// Errc::bad_request on anything that is not a well-formed event.
Result<Event> decode_event(std::string_view json);

}  // namespace anteroom
