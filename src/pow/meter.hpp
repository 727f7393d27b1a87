#pragma once
// Adaptive difficulty (SPEC §8, docs/pow.md): how much pressure a client's network and a queue
// put on this process, counted over PowConfig::window_s, turned into extra bits.
//
// Counts, per (queue, network): challenges handed out + joins made. Per queue: joins made.
// A sliding window estimated from two fixed windows (the previous one weighted by how much of
// it still overlaps), O(1) per request, memory bounded (kMaxNetworks entries per process; past
// that, new networks share one overflow entry per queue, which therefore pays more: documented).
// Entries idle for two windows are dropped by a sweep that runs when the table is full, at most
// once per kSweepEveryMs (so a full table costs one pass over it per second, not per request).
//
// Counted only for queues whose proof of work is on and adaptive (a queue without one pays
// nothing for the meter on its joins).
//
// Per process: with P processes behind a balancer that spreads one network over all of them, a
// network's share is effectively P times network_share (docs/pow.md says how to size it).
// Not thread-safe: the edge's io thread.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/types.hpp"

namespace anteroom::pow {

// The network an address belongs to: IPv4 /24 ("203.0.113.0/24"), IPv6 /56; anything
// unparsable is its own network (the text itself).
std::string network_of(std::string_view ip);

// Extra bits for a count over a limit: 0 while count <= limit, else 1 + floor(log2(count /
// limit)) (each doubling beyond the limit: one more bit, i.e. twice the work). 0 if limit <= 0;
// at most 64.
int extra_bits_for(double count, double limit);

class Meter {
 public:
  static constexpr size_t kMaxNetworks = 100'000;
  static constexpr Millis kSweepEveryMs = 1000;

  // Counts one challenge handed out / one join made by `ip`'s network on queue `q`.
  void challenge(std::string_view q, std::string_view ip, const PowConfig& c, Millis now);
  void join(std::string_view q, std::string_view ip, const PowConfig& c, Millis now);
  // The extra bits for `ip`'s network on `q` now: the network's count over
  // c.network_share, plus the queue's joins/s over c.surge_per_s (if set). 0 if !c.adaptive.
  int extra_bits(std::string_view q, std::string_view ip, const PowConfig& c, Millis now) const;

  // For tests and docs: the network entries held (overflow entries included), the sweeps run.
  size_t networks() const { return networks_; }
  int64_t sweeps() const { return sweeps_; }

 private:
  // A count over a sliding window of `len` ms, estimated from the current fixed window
  // [start, start + len) and the previous one.
  struct Window {
    Millis start = 0;
    Millis len = 0;
    double cur = 0;
    double prev = 0;
    void add(Millis now, Millis window_len);
    double estimate(Millis now, Millis window_len) const;
    bool idle(Millis now) const { return now >= start + 2 * len; }
  };
  // A network as 17 bytes (family and the masked address), so a lookup allocates nothing.
  // Family 4 / 6: an address; 0xfe: the overflow entry; 0xff: unparsable text, by its hash.
  using NetKey = std::array<unsigned char, 17>;
  struct NetKeyHash {
    size_t operator()(const NetKey& k) const;
  };
  struct QueueMeter {
    Window joins;
    std::unordered_map<NetKey, Window, NetKeyHash> nets;
  };
  struct StrHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  static NetKey key_of(std::string_view ip);
  // The network's window to count in, made if need be (the overflow entry when full).
  Window& net_window(QueueMeter& qm, std::string_view ip, Millis now);
  QueueMeter& queue(std::string_view q);
  // Drops idle networks, and idle queues other than `keep` (the one being counted in).
  void sweep(Millis now, const QueueMeter* keep);

  std::unordered_map<std::string, QueueMeter, StrHash, std::equal_to<>> queues_;
  size_t networks_ = 0;
  Millis last_sweep_ = 0;
  int64_t sweeps_ = 0;
};

}  // namespace anteroom::pow
