#pragma once
// The hub's settings (app/config.cpp fills them from flags).
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "hub/coalescer.hpp"

namespace anteroom {

struct HubConfig {
  std::chrono::milliseconds heartbeat{10'000};      // a comment line at least this often
  int64_t near_position = 100;                      // closer than this: every change is sent
  std::chrono::milliseconds far_interval{1000};     // further back: at most one position per this
  std::chrono::milliseconds touch_floor{250};       // keepalive batches no more often than this
  std::chrono::milliseconds write_timeout{30'000};  // a reader this far behind is dropped
  // An update for at least this many streams is sent by two threads (fanout.hpp); 0: one.
  size_t parallel_send_min = 2048;
  // Open streams per ticket in this process; one more replaces the oldest (newest wins).
  int64_t streams_per_ticket = 3;

  CoalescingRule coalescing() const { return {near_position, far_interval}; }
};

}  // namespace anteroom
