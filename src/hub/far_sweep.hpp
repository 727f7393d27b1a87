#pragma once
// When the far-back streams of a queue are ranked. A visitor further back than near_position is
// told at most one position per far_interval anyway (coalescer.hpp), so ranking its stream on
// every flush (one per batch of events: with P processes ticking every 100 ms, tens a second) is
// work thrown away. A flush ranks only the near-head prefix of a queue's streams (join order is
// position order, so the near ones are a prefix) and marks the rest here; a sweep ranks them at
// most once per far_interval: at once if the last sweep is that long ago, else when it is. A
// sweep of many streams is cut into slices, so that no request waits behind all of them.
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
  // Whether to sweep now: one is running (its next slice), or one is pending and due.
  bool due(Clock::time_point now) const { return sweeping() || (pending() && now >= next_); }

  // A sweep runs in slices (the io thread serves requests in between): begin() takes what is
  // pending, each slice ranks from current().from on and then advances to where the next one
  // starts (kNone: the sweep is over). What moves meanwhile is pending for the next sweep.
  void begin() {
    current_ = range_;
    range_ = Range{};
  }
  bool sweeping() const { return current_.from != kNone; }
  const Range& current() const { return current_; }
  void advance(uint64_t next_from) { current_.from = next_from; }
  // The sweep's last slice ended at `end`: the next is no earlier than end + interval, so that
  // every stream it told is due again at its coalescer by then (none is held back a second time).
  void swept(Clock::time_point end, std::chrono::milliseconds interval) { next_ = end + interval; }

 private:
  Range range_;    // moved since the running (or last) sweep began
  Range current_;  // the running sweep: from = where its next slice starts
  Clock::time_point next_{};
};

}  // namespace anteroom
