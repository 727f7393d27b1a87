#include <openssl/rand.h>

#include <stdexcept>

#include "core/encoding.hpp"
#include "store/queue_store.hpp"

namespace anteroom {

std::string new_ticket_id() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
  return base64url_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

}  // namespace anteroom
