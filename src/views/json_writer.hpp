#pragma once
// JsonWriter: appends "key": value pairs of one JSON object to a string, by hand (no DOM), the way
// every view of the API writes its numbers: integers as integers, other doubles as a person
// writes them (0.001, 2.5; never Boost.JSON's 2.5E0). Strings are escaped exactly as Boost.JSON
// escapes them (the common plain case is copied as is).
//
// The object starts where the string ended when the writer was made, so objects can be written
// straight into a larger document (an array of rows); close() ends it ("{}" if no key was
// written). Not thread-safe (it is a view of one string).
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom::views {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& o) : o_(o), start_(o.size()) {}
  void str(std::string_view k, std::string_view v) {
    key(k);
    string(o_, v);
  }
  void num(std::string_view k, int64_t v) {
    key(k);
    o_ += std::to_string(v);
  }
  // A non-integral number as a person writes it: 0.001, 2.5 (Boost.JSON would write 1E-3,
  // 2.5E0); integral values as integers. Shortest text that reads back as the same double.
  void real(std::string_view k, double v) {
    key(k);
    number(o_, v);
  }
  // A value already written as JSON (a nested object or array).
  void raw(std::string_view k, std::string_view json_text) {
    key(k);
    o_ += json_text;
  }
  void num_or_null(std::string_view k, const std::optional<int64_t>& v) {
    key(k);
    o_ += v ? std::to_string(*v) : "null";
  }
  void real_or_null(std::string_view k, const std::optional<double>& v) {
    key(k);
    if (v) {
      number(o_, *v);
    } else {
      o_ += "null";
    }
  }
  void boolean(std::string_view k, bool v) {
    key(k);
    o_ += v ? "true" : "false";
  }
  void close() { o_ += o_.size() == start_ ? "{}" : "}"; }

  // A JSON string (quoted, escaped) appended to `o`.
  static void string(std::string& o, std::string_view v) {
    bool plain = std::all_of(v.begin(), v.end(),
                             [](unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; });
    if (plain) {
      o += '"';
      o += v;
      o += '"';
    } else {
      o += boost::json::serialize(boost::json::string_view(v));
    }
  }
  // A number as real() writes it, appended to `o`.
  static void number(std::string& o, double v) {
    char buf[64];
    std::to_chars_result r{};
    if (!std::isfinite(v)) {
      o += "0";  // JSON has no NaN or infinity; the rules never let one in
      return;
    } else if (v == std::trunc(v) && std::fabs(v) < 9e15) {
      r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    } else if (std::fabs(v) >= 1e-6) {
      r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    } else {
      r = std::to_chars(buf, buf + sizeof buf, v);  // tiny: 1e-320 is still a JSON number
    }
    o.append(buf, r.ptr);
  }

 private:
  void key(std::string_view k) {
    o_ += o_.size() == start_ ? "{\"" : ",\"";
    o_ += k;
    o_ += "\":";
  }
  std::string& o_;
  size_t start_;
};

}  // namespace anteroom::views
