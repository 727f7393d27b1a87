#pragma once
// The body of PUT /v1/queues/{q}: a JSON object of known queue-config fields, parsed strictly
// (unknown fields and wrong types are refused) and checked against the queue rules.
#include <string>

#include "core/error.hpp"
#include "core/types.hpp"

namespace anteroom::http {

// An empty body is an empty patch. Errors: invalid_json, bad_request (with the field named).
// Beyond rules::validate, what only comes in over HTTP is refused here:
// - target_url: an http(s) URL with a host, or a path starting with exactly one '/'; never a
//   backslash or a control character (a browser reads "/\\evil.com" as "//evil.com", another
//   site, which would make the waiting room an open redirect that carries the token);
// - admit_per_s: 0 (paused admission) or 0.001..1000000 (below that, no admission for years:
//   a typo, and a number that prints as 1e-320);
// - prequeue_at / opens_at / closes_at: an integer of Unix seconds in [kMinUnixS, kMaxUnixS],
//   or null (unsets it); mode: "fifo", "random", "passthrough" or "reject"; message: a string.
//   Each refusal names the field. (Whether the merged schedule holds together, and whether it
//   may change now, is the store's check: rules::validate_schedule, check_schedule_change.)
// - webhooks whose host is a non-public address literal, unless `webhook_allow_private`
//   (webhooks/address_policy.hpp).
Result<ConfigPatch> parse_patch(const std::string& body, bool webhook_allow_private = false);

}  // namespace anteroom::http
