#pragma once
// Proof-of-work challenges (SPEC §8, docs/pow.md): minted by any process of the fleet, checked
// by any other, no state but the shared secret. Pure: no I/O, no clock of its own.
//
// A challenge is one ASCII string, readable by a client that wants to know what it solves:
//
//   pow1.<queue>.<bits>.<expires_ms>.<id>.<mac>
//
//   queue       the queue's name ([a-z0-9][a-z0-9-]{0,63}: no '.')
//   bits        decimal 0..32: leading zero bits the proof's hash must have
//   expires_ms  decimal Unix milliseconds: the challenge is refused from then on
//   id          22 characters base64url (128 random bits): what single use is keyed by
//   mac         22 characters base64url: the first 16 bytes of
//               HMAC-SHA256(key, "pow1.<queue>.<bits>.<expires_ms>.<id>")
//
// The proof: a nonce of 1..32 characters of [A-Za-z0-9_-] (a client counting in decimal is
// fine) such that SHA-256(challenge ":" nonce) (the ASCII bytes) begins with at least `bits`
// zero bits (most significant bit of the first byte first).
//
// key = HMAC-SHA256(process secret, "anteroom-pow-key-v1"): every process of a fleet shares the
// token secret (--token-secret), so every process checks every other's challenges.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace anteroom::pow {

inline constexpr std::string_view kVersion = "pow1";
inline constexpr size_t kMaxNonce = 32;
inline constexpr size_t kMaxChallenge = 200;  // longer input: invalid without parsing

// The key challenges are signed with, from the process's token secret.
std::string derive_key(std::string_view token_secret);

struct Challenge {
  std::string text;  // the whole string a client hashes
  std::string queue;
  int bits = 0;
  Millis expires_ms = 0;
  std::string id;
};

// A new challenge for `queue` with a fresh random id (OS CSPRNG).
Challenge mint(std::string_view key, std::string_view queue, int bits, Millis expires_ms);

// Checks a proof statelessly: malformed or a bad mac → invalid; signed for another queue →
// wrong_queue; now >= expires_ms → expired; bad nonce characters → invalid; the hash short of
// the challenge's bits → insufficient; else valid with bits, id and expires_ms filled in.
// (extra_bits is the caller's to fill.) Costs two HMAC-SHA256 and one SHA-256.
PowProof check(std::string_view key, std::string_view queue, std::string_view challenge,
               std::string_view nonce, Millis now);

// Leading zero bits of a 32-byte digest (0..256).
int leading_zero_bits(const unsigned char* digest32);

// The JSON object a client is handed (GET .../challenge, and in every pow_* refusal):
// {"challenge":"pow1...","bits":18,"expires_ms":...,"algorithm":"sha256-leading-zero-bits",
//  "input":"challenge:nonce"}
std::string challenge_json(const Challenge& c);

}  // namespace anteroom::pow
