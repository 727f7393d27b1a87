#pragma once
// When the far-back streams of a queue are ranked. A visitor further back than near_position is
// told at most one position per far_interval anyway (coalescer.hpp), so ranking its stream on
// every flush (one per batch of events: with P processes ticking every 100 ms, tens a second) is
// work thrown away. A flush ranks only the near-head prefix of a queue's streams (join order is
// position order, so the near ones are a prefix) and marks the rest here; a sweep ranks them at
// most once per far_interval: at once if the last sweep is that long ago, else when it is.
//
// One per queue view; not thread-safe (the io thread). Time is passed in, so tests need no clock.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

namespace anteroom {

class FarSweep {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
  struct Range {
    uint64_t from = kNone;  // the streams with join order ≥ from may have a new position
    bool all = false;       // re-send even an unchanged position if its frame changed
  };

  // The streams from `from` on (join order) moved, beyond the near head.
  void mark(uint64_t from, bool all) {
    range_.from = std::min(range_.from, from);
    range_.all = range_.all || all;
  }
  bool pending() const { return range_.from != kNone; }
  bool due(Clock::time_point now) const { return pending() && now >= next_; }
  // What to sweep now; nothing is pending after it.
  Range take() {
    Range r = range_;
    range_ = Range{};
    return r;
  }
  // A sweep's sends ended at `end`: the next is no earlier than end + interval, so that every
  // stream it told is due again at its coalescer by then (none is held back a second time).
  void swept(Clock::time_point end, std::chrono::milliseconds interval) { next_ = end + interval; }
  Clock::time_point next() const { return next_; }

 private:
  Range range_;
  Clock::time_point next_{};
};

}  // namespace anteroom
