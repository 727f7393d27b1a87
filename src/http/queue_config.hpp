#pragma once
// The body of PUT /v1/queues/{q}: a JSON object of known queue-config fields, parsed strictly
// (unknown fields and wrong types are refused) and checked against the queue rules.
#include <string>

#include "core/error.hpp"
#include "core/types.hpp"

namespace anteroom::http {

// An empty body is an empty patch. Errors: invalid_json, bad_request (with the field named).
Result<ConfigPatch> parse_patch(const std::string& body);

}  // namespace anteroom::http
