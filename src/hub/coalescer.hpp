#pragma once
// Position coalescing: only a stream's latest position matters. A visitor near the head
// (position ≤ near) is told every change at once; one further back at most one position per
// far_interval: a newer position replaces a held one, and the held one goes out when its
// interval is up (the hub's hold loop asks again). Admission and end frames are never coalesced.
//
// One per stream; not thread-safe (the io thread). Time is passed in, so tests need no clock.
#include <chrono>
#include <cstdint>
#include <string>

namespace anteroom {

struct CoalescingRule {
  int64_t near_position = 100;                   // at most this: every change is sent
  std::chrono::milliseconds far_interval{1000};  // further back: at most one position per this
};

class CoalescedPosition {
 public:
  using Clock = std::chrono::steady_clock;

  // A new position to tell (replaces one not yet sent).
  void update(int64_t position, std::string frame);
  // The stream's first position, going out now with its first bytes.
  void sent_now(int64_t position, std::string frame, Clock::time_point now);
  // Nothing more to tell: admitted, ended or shutting down.
  void drop() { pending_ = false; }
  // Appends the position frame to `out` if one is pending and due under `rule`. Returns true
  // if a pending position was held back for later.
  bool drain(std::string& out, const CoalescingRule& rule, Clock::time_point now);

  // When a held position may go out under `rule`.
  Clock::time_point due(const CoalescingRule& rule) const { return sent_ + rule.far_interval; }
  bool pending() const { return pending_; }
  int64_t position() const { return position_; }  // the latest told or pending (-1: none)
  const std::string& frame() const { return frame_; }

 private:
  bool pending_ = false;
  int64_t position_ = -1;
  std::string frame_;
  Clock::time_point sent_{};
};

}  // namespace anteroom
