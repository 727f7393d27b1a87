#include "draw/draw.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/encoding.hpp"

namespace anteroom::draw {

std::string entry_id(std::string_view ticket_id) {
  static constexpr std::string_view kPrefix = "anteroom-entry-v1:";
  std::string msg;
  msg.reserve(kPrefix.size() + ticket_id.size());
  msg.append(kPrefix).append(ticket_id);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(md), 16));
}

Seed new_seed() {
  Seed s;
  if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return s;
}

std::string commitment(const Seed& seed) {
  std::array<uint8_t, 32> md;
  SHA256(seed.data(), seed.size(), md.data());
  return hex(md);
}

Key key(const Seed& seed, std::string_view entry_id) {
  Key k;
  unsigned int len = 0;
  HMAC(EVP_sha256(), seed.data(), static_cast<int>(seed.size()),
       reinterpret_cast<const unsigned char*>(entry_id.data()), entry_id.size(), k.data(), &len);
  return k;
}

bool before(const Key& a, std::string_view id_a, const Key& b, std::string_view id_b) {
  int c = std::memcmp(a.data(), b.data(), a.size());
  return c != 0 ? c < 0 : id_a < id_b;
}

std::vector<std::string> order(const Seed& seed, std::vector<std::string> entry_ids) {
  std::vector<std::pair<Key, std::string>> keyed;
  keyed.reserve(entry_ids.size());
  for (auto& id : entry_ids) keyed.emplace_back(key(seed, id), std::move(id));
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return before(a.first, a.second, b.first, b.second);
  });
  std::vector<std::string> out;
  out.reserve(keyed.size());
  for (auto& [_, id] : keyed) out.push_back(std::move(id));
  return out;
}

std::string hex(const std::array<uint8_t, 32>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

std::optional<std::array<uint8_t, 32>> from_hex(std::string_view h) {
  if (h.size() != 64) return std::nullopt;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::array<uint8_t, 32> out;
  for (size_t i = 0; i < 32; ++i) {
    int hi = nib(h[2 * i]), lo = nib(h[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

}  // namespace anteroom::draw
