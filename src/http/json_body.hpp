#pragma once
// The JSON bodies the API takes (a queue's config, an invite spec, a join): one object, read
// strictly by each handler. What they share: the parse with its errors, and integers.
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.hpp"

namespace anteroom::http {

// `body` as a JSON value that is an object, or invalid_json / bad_request. `sp`: where the tree
// lives (a join parses into a stack buffer: no heap allocation on its hot path).
Result<boost::json::value> parse_object(std::string_view body, boost::json::storage_ptr sp = {});

// A JSON integer (any in int64 range; larger unsigned values saturate at INT64_MAX, so the bound
// check that follows refuses them), else nullopt.
std::optional<int64_t> json_integer(const boost::json::value& v);

}  // namespace anteroom::http
