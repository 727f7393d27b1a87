// A proof-of-work client for end-to-end tests, written from docs/pow.md alone (OpenSSL's SHA-256
// and HMAC, nothing of src/pow): what a third-party JSON client would do. It fetches a
// challenge, solves it by counting nonces in decimal, and can sign challenges of its own with
// the key the documentation says a process derives from its --token-secret (to provoke what a
// server never hands out, e.g. an already-expired challenge).
// Thread-safe (no shared state).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {

// Leading zero bits of SHA-256(challenge ":" nonce).
int PowZeroBits(std::string_view challenge, std::string_view nonce);
// The first decimal nonce (0, 1, 2, ...) whose hash has at least `bits` leading zero bits;
// `hashes` (if given) gets how many were tried.
std::string PowSolve(std::string_view challenge, int bits, long* hashes = nullptr);
// The first decimal nonce whose hash has FEWER than `bits` leading zero bits.
std::string PowSolveShort(std::string_view challenge, int bits);

// The key a process with --token-secret `secret` signs challenges with:
// HMAC-SHA256(secret, "anteroom-pow-key-v1").
std::string PowKey(std::string_view secret);
// A challenge signed with `key`: "pow1.<queue>.<bits>.<expires_ms>.<id>.<mac>", mac = base64url
// (no padding) of the first 16 bytes of HMAC-SHA256(key, everything before ".<mac>").
std::string PowSign(std::string_view key, std::string_view queue, int bits, long long expires_ms,
                    std::string_view id = "AAAAAAAAAAAAAAAAAAAAAA");
// Base64url without padding.
std::string Base64Url(std::string_view bytes);

// {"challenge": c, "nonce": n}, and a join body carrying it (plus "user" if given).
boost::json::object PowField(std::string_view challenge, std::string_view nonce);
boost::json::object PowJoinBody(std::string_view challenge, std::string_view nonce,
                                std::string_view user = "");

// GET /v1/queues/{q}/challenge with `headers`.
HttpResponse GetChallenge(const AnteroomProcess& p, std::string_view queue,
                          const Headers& headers = {});

// Milliseconds since the Unix epoch.
long long NowMs();

}  // namespace anteroom::testing
