#pragma once
// Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its hash tag (the part between the
// first '{' and the next '}', if not empty), mod 16384 - the rule of the Redis Cluster
// specification, so that every key of queue q ("aq:{q}:...") lands in q's slot.
#include <cstdint>
#include <string_view>

namespace anteroom::redis {

inline constexpr int kClusterSlots = 16384;

inline uint16_t crc16(std::string_view s) {
  uint16_t crc = 0;
  for (unsigned char c : s) {
    crc ^= static_cast<uint16_t>(c) << 8;
    for (int i = 0; i < 8; ++i)
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

inline int key_slot(std::string_view key) {
  auto open = key.find('{');
  if (open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) % kClusterSlots;
}

}  // namespace anteroom::redis
