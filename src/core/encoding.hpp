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

// Milliseconds since the Unix epoch, now.
inline Millis wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace anteroom
