#include "pow/challenge.hpp"

// SHA256_CTX: see sha256() below.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>
#include <stdexcept>

#include "core/encoding.hpp"

namespace anteroom::pow {

namespace {

constexpr size_t kIdBytes = 16;
constexpr size_t kMacBytes = 16;
constexpr size_t kB64Len = 22;  // base64url of 16 bytes, no padding
constexpr size_t kBlock = 64;   // SHA-256's block: HMAC pads the key to it

// SHA-256 through OpenSSL's low-level context. Deprecated in OpenSSL 3 in favour of EVP, but
// EVP costs what a join cannot pay here: the one-shot SHA256() fetches its digest on every call
// (~500 ns for a short input, measured by bench 9) and copying an EVP context allocates, while
// SHA256_CTX is a plain struct: the HMAC's keyed midstates are copied by assignment.
void sha256(const void* data, size_t n, unsigned char out[32]) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, data, n);
  SHA256_Final(out, &c);
}

// HMAC-SHA256 (RFC 2104). The key's two padded blocks are hashed once per key and thread and
// kept as midstates, so a check pays for the message's blocks only (a join's proof: 2 + 1
// compressions for the mac). No allocation.
void hmac_sha256(std::string_view key, std::string_view msg, unsigned char out[32]) {
  struct Keyed {
    unsigned char key[32] = {};
    size_t len = 0;
    bool set = false;
    SHA256_CTX inner, outer;
  };
  thread_local Keyed cache;
  bool cacheable = key.size() <= sizeof cache.key;
  if (!cacheable || !cache.set || cache.len != key.size() ||
      CRYPTO_memcmp(cache.key, key.data(), key.size()) != 0) {
    unsigned char k[kBlock] = {};
    if (key.size() > kBlock) {
      sha256(key.data(), key.size(), k);
    } else {
      std::memcpy(k, key.data(), key.size());
    }
    unsigned char pad[kBlock];
    for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&cache.inner);
    SHA256_Update(&cache.inner, pad, kBlock);
    for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&cache.outer);
    SHA256_Update(&cache.outer, pad, kBlock);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    cache.set = cacheable;
    cache.len = cacheable ? key.size() : 0;
    if (cacheable) std::memcpy(cache.key, key.data(), key.size());
  }
  unsigned char inner_digest[32];
  SHA256_CTX c = cache.inner;
  SHA256_Update(&c, msg.data(), msg.size());
  SHA256_Final(inner_digest, &c);
  c = cache.outer;
  SHA256_Update(&c, inner_digest, sizeof inner_digest);
  SHA256_Final(out, &c);
  OPENSSL_cleanse(&c, sizeof c);
  if (!cacheable) cache.set = false;  // (a long key is not kept: hashed again next time)
}

// 16 bytes as 22 characters of base64url without padding, into `out` (the check's mac is
// compared from the stack: no allocation on the join path).
void b64url_16(const unsigned char* in, char out[kB64Len]) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i + 3 <= kMacBytes; i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  uint32_t last = in[kMacBytes - 1];  // 16 = 5 * 3 + 1: one byte left, two characters
  out[o++] = kAlphabet[(last >> 2) & 63];
  out[o++] = kAlphabet[(last << 4) & 63];
}

// The mac of a challenge's signed part, as its 22 characters.
std::string mac_of(std::string_view key, std::string_view signed_part) {
  unsigned char full[32];
  hmac_sha256(key, signed_part, full);
  char text[kB64Len];
  b64url_16(full, text);
  return std::string(text, kB64Len);
}

// 16 random bytes from the OS CSPRNG as an id. Drawn 4 KiB at a time, like ticket ids
// (store/ids.cpp): one RAND_bytes call per 256 challenges.
std::string new_id() {
  thread_local unsigned char pool[4096];
  thread_local size_t used = sizeof pool;
  if (used + kIdBytes > sizeof pool) {
    if (RAND_bytes(pool, sizeof pool) != 1) throw std::runtime_error("RAND_bytes failed");
    used = 0;
  }
  std::string id =
      base64url_encode(std::string_view(reinterpret_cast<char*>(pool + used), kIdBytes));
  used += kIdBytes;
  return id;
}

bool b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool b64url_text(std::string_view s) {
  for (char c : s)
    if (!b64url_char(c)) return false;
  return true;
}

// A decimal without sign or leading zeros (except "0"), at most `max_digits` digits.
bool decimal(std::string_view s, size_t max_digits, int64_t& out) {
  if (s.empty() || s.size() > max_digits || (s.size() > 1 && s[0] == '0')) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// Splits off the text up to the next '.', advancing `rest` past it; false if there is none.
bool next_field(std::string_view& rest, std::string_view& field) {
  size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  field = rest.substr(0, dot);
  rest.remove_prefix(dot + 1);
  return true;
}

// Constant time, so that a forger learns nothing from how long a refusal took.
bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string derive_key(std::string_view token_secret) {
  unsigned char k[32];
  hmac_sha256(token_secret, "anteroom-pow-key-v1", k);
  return std::string(reinterpret_cast<char*>(k), sizeof k);
}

Challenge mint(std::string_view key, std::string_view queue, int bits, Millis expires_ms) {
  Challenge c;
  c.queue = std::string(queue);
  c.bits = bits;
  c.expires_ms = expires_ms;
  c.id = new_id();
  c.text.reserve(kVersion.size() + queue.size() + 2 + 20 + 2 * kB64Len + 5);
  c.text += kVersion;
  c.text += '.';
  c.text += queue;
  c.text += '.';
  c.text += std::to_string(bits);
  c.text += '.';
  c.text += std::to_string(expires_ms);
  c.text += '.';
  c.text += c.id;
  std::string mac = mac_of(key, c.text);
  c.text += '.';
  c.text += mac;
  return c;
}

PowProof check(std::string_view key, std::string_view queue, std::string_view challenge,
               std::string_view nonce, Millis now) {
  PowProof p;
  p.verdict = PowVerdict::invalid;
  if (challenge.size() > kMaxChallenge || challenge.size() < kB64Len + 1) return p;
  // The mac first: nothing of a challenge is believed (not even its queue) before it is ours.
  std::string_view signed_part = challenge.substr(0, challenge.size() - kB64Len - 1);
  std::string_view mac = challenge.substr(challenge.size() - kB64Len);
  if (challenge[signed_part.size()] != '.' || !b64url_text(mac)) return p;
  unsigned char full[32];
  hmac_sha256(key, signed_part, full);
  char want[kB64Len];
  b64url_16(full, want);
  if (!same(mac, std::string_view(want, kB64Len))) return p;

  // Signed by us, so well formed unless the key leaked; parsed strictly all the same.
  std::string_view rest = signed_part, version, q, bits_text, exp_text;
  if (!next_field(rest, version) || version != kVersion) return p;
  if (!next_field(rest, q) || !next_field(rest, bits_text) || !next_field(rest, exp_text)) return p;
  std::string_view id = rest;
  int64_t bits = 0, exp = 0;
  if (!decimal(bits_text, 2, bits) || bits > 32 || !decimal(exp_text, 15, exp)) return p;
  if (id.size() != kB64Len || !b64url_text(id)) return p;

  if (q != queue) {
    p.verdict = PowVerdict::wrong_queue;
    return p;
  }
  if (now >= exp) {
    p.verdict = PowVerdict::expired;
    return p;
  }
  if (nonce.empty() || nonce.size() > kMaxNonce || !b64url_text(nonce)) return p;

  // SHA-256(challenge ":" nonce), hashed from a stack buffer.
  unsigned char input[kMaxChallenge + 1 + kMaxNonce];
  std::memcpy(input, challenge.data(), challenge.size());
  input[challenge.size()] = ':';
  std::memcpy(input + challenge.size() + 1, nonce.data(), nonce.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  sha256(input, challenge.size() + 1 + nonce.size(), digest);
  if (leading_zero_bits(digest) < bits) {
    p.verdict = PowVerdict::insufficient;
    p.bits = static_cast<int>(bits);
    return p;
  }
  p.verdict = PowVerdict::valid;
  p.bits = static_cast<int>(bits);
  p.id = std::string(id);
  p.expires_ms = exp;
  return p;
}

int leading_zero_bits(const unsigned char* digest32) {
  int n = 0;
  for (int i = 0; i < 32; ++i) {
    unsigned char b = digest32[i];
    if (b == 0) {
      n += 8;
      continue;
    }
    while (!(b & 0x80)) {
      ++n;
      b = static_cast<unsigned char>(b << 1);
    }
    return n;
  }
  return n;
}

std::string challenge_json(const Challenge& c) {
  // Every part is ASCII without quotes or backslashes (queue names, digits, base64url).
  std::string o;
  o.reserve(c.text.size() + 128);
  o += "{\"challenge\":\"";
  o += c.text;
  o += "\",\"bits\":";
  o += std::to_string(c.bits);
  o += ",\"expires_ms\":";
  o += std::to_string(c.expires_ms);
  o += ",\"algorithm\":\"sha256-leading-zero-bits\",\"input\":\"challenge:nonce\"}";
  return o;
}

}  // namespace anteroom::pow
