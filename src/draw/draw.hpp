#pragma once
// The verifiable draw, anteroom-draw-v1 (docs/draw.md is the public description; the shipped
// checker tools/verify-draw implements the same functions from it):
//
//   entry_id(ticket)   = base64url, no padding, of SHA-256("anteroom-entry-v1:" ‖ ticket)[0..16]
//                        (22 characters; one-way: the ticket id stays the visitor's secret)
//   seed               = 32 random bytes, one per queue epoch, made before the first entrant;
//                        published as 64 lowercase hex digits once drawn
//   commitment         = hex SHA-256(seed), public from the moment the schedule is set
//   key(seed, entry)   = HMAC-SHA256(key = seed, message = the 22 ASCII bytes of entry_id)
//   order              = ascending key as 32 unsigned bytes; equal keys by entry_id bytes
//
// Because each entrant's key is known at its join, a store can keep the pre-queue sorted by key
// as it fills and the draw at opens_at is only a reveal (src/store/README.md, "The on-sale").
// Pure functions over OpenSSL; thread-safe.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::draw {

inline constexpr std::string_view kAlgorithm = "anteroom-draw-v1";

using Seed = std::array<uint8_t, 32>;
using Key = std::array<uint8_t, 32>;

std::string entry_id(std::string_view ticket_id);
// 32 bytes from the OS CSPRNG.
Seed new_seed();
std::string commitment(const Seed& seed);
Key key(const Seed& seed, std::string_view entry_id);
// The draw's total order: a before b.
bool before(const Key& a, std::string_view id_a, const Key& b, std::string_view id_b);

// `entry_ids` in the draw's order under `seed` (what a store publishes, what verify-draw checks).
std::vector<std::string> order(const Seed& seed, std::vector<std::string> entry_ids);

// Lowercase hex of 32 bytes, and back (nullopt unless exactly 64 hex digits).
std::string hex(const std::array<uint8_t, 32>& bytes);
std::optional<std::array<uint8_t, 32>> from_hex(std::string_view hex);

}  // namespace anteroom::draw
