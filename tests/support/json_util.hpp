// Lenient accessors for JSON responses in tests: a missing field or a field of another type
// gives an empty value (which the test's assertion then reports) instead of an exception.
#pragma once

#include <boost/json/value.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom::testing {

// The member `key` of `v` if `v` is an object that has it, else nullptr.
const boost::json::value* Field(const boost::json::value& v, std::string_view key);
// String member, or "" when absent or not a string.
std::string Str(const boost::json::value& v, std::string_view key);
// Integer member (a JSON number with an integral value), or nullopt.
std::optional<long long> Int(const boost::json::value& v, std::string_view key);
// Any numeric member, or nullopt.
std::optional<double> Num(const boost::json::value& v, std::string_view key);
std::optional<bool> Bool(const boost::json::value& v, std::string_view key);
// Member by path, e.g. Path(v, {"stats", "waiting"}); nullptr if any step is missing.
const boost::json::value* Path(const boost::json::value& v,
                               std::initializer_list<std::string_view> keys);
std::optional<long long> IntAt(const boost::json::value& v,
                               std::initializer_list<std::string_view> keys);

}  // namespace anteroom::testing
