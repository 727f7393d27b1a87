#pragma once
// Adaptive difficulty (SPEC §8, docs/pow.md): how much pressure a client's network and a queue
// put on this process, counted over PowConfig::window_s, turned into extra bits.
//
// Counts, per (queue, network): challenges handed out + joins made. Per queue: joins made.
// A sliding window estimated from two fixed windows (the previous one weighted by how much of
// it still overlaps), O(1) per request, memory bounded (kMaxNetworks entries per process; past
// that, new networks share one overflow entry, which therefore pays more: documented).
//
// Per process: with P processes behind a balancer that spreads one network over all of them, a
// network's share is effectively P times network_share (docs/pow.md says how to size it).
// Not thread-safe: the edge's io thread.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/types.hpp"

namespace anteroom::pow {

// The network an address belongs to: IPv4 /24 ("203.0.113.0/24"), IPv6 /56; anything
// unparsable is its own network (the text itself).
std::string network_of(std::string_view ip);

// Extra bits for a count over a limit: 0 while count <= limit, else 1 + floor(log2(count /
// limit)) (each doubling beyond the limit: one more bit, i.e. twice the work).
int extra_bits_for(double count, double limit);

class Meter {
 public:
  static constexpr size_t kMaxNetworks = 100'000;

  // Counts one challenge handed out / one join made by `ip`'s network on queue `q`.
  void challenge(std::string_view q, std::string_view ip, const PowConfig& c, Millis now);
  void join(std::string_view q, std::string_view ip, const PowConfig& c, Millis now);
  // The extra bits for `ip`'s network on `q` now: the network's count over
  // c.network_share, plus the queue's joins/s over c.surge_per_s (if set). 0 if !c.adaptive.
  int extra_bits(std::string_view q, std::string_view ip, const PowConfig& c, Millis now) const;

 private:
  struct Window;
  // (implementation's choice)
};

}  // namespace anteroom::pow
