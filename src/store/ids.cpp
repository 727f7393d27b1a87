#include <openssl/rand.h>

#include <stdexcept>

#include "core/encoding.hpp"
#include "core/rules.hpp"
#include "store/queue_store.hpp"

namespace anteroom {

// 128 bits from the OS CSPRNG (via OpenSSL), drawn 4 KiB at a time: one RAND_bytes call per
// 256 tickets instead of one per ticket (it was 7% of an embedded join).
std::string new_ticket_id() {
  thread_local unsigned char pool[4096];
  thread_local size_t used = sizeof pool;
  if (used + 16 > sizeof pool) {
    if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("RAND_bytes failed");
    used = 0;
  }
  std::string id = base64url_encode(std::string_view(reinterpret_cast<char*>(pool + used), 16));
  OPENSSL_cleanse(pool + used, 16);  // a ticket id is a secret: do not keep a copy around
  used += 16;
  return id;
}

// 80 bits: 16 symbols of 5 bits each (the alphabet has 32).
std::string new_invite_code() {
  unsigned char b[10];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string code;
  uint64_t acc = 0;
  int have = 0;
  for (unsigned char byte : b) {
    acc = (acc << 8) | byte;
    have += 8;
    while (have >= 5) {
      have -= 5;
      code += rules::kInviteAlphabet[(acc >> have) & 31];
    }
  }
  OPENSSL_cleanse(b, sizeof b);
  return code;
}

}  // namespace anteroom
