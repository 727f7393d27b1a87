#pragma once
// Small shared helpers with no I/O: base64url (RFC 4648 §5, no padding) and the wall clock in
// the Millis unit every store call takes.
#include <chrono>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace anteroom {

std::string base64url_encode(std::string_view in);
// False on a character outside the alphabet or an impossible length.
bool base64url_decode(std::string_view in, std::string& out);

// A JSON string literal of `s` (quotes, backslash escapes, control characters as \u00XX).
std::string json_quote(std::string_view s);
// Code points of valid UTF-8 (no overlongs, surrogates or values above U+10FFFF), else -1.
int64_t utf8_chars(std::string_view s);

// Milliseconds since the Unix epoch, now.
inline Millis wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace anteroom
