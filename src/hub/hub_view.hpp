#pragma once
// (Internal to the hub: hub.cpp and hub_tasks.cpp.) One queue's view plus this process's
// streams of it.
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "hub/far_sweep.hpp"
#include "hub/hub.hpp"
#include "hub/queue_view.hpp"

namespace anteroom {

struct Hub::View {
  std::string name;
  QueueView q;
  std::unordered_multimap<std::string, Stream*> by_ticket;
  std::unordered_map<Stream*, std::shared_ptr<Stream>> streams;
  // Started streams in join order: the streams an event moved are a tail of it.
  std::set<std::pair<uint64_t, Stream*>> by_order;
  // Moved streams beyond the near head, ranked at most once per far_interval (far_sweep.hpp).
  FarSweep far;
  Millis last_touch_ms = 0;
  // The on-sale (hub_tasks.cpp: broadcast, places_task).
  int64_t prequeue_told = -1;    // entrants in the last `prequeue` broadcast (-1: none yet)
  Millis prequeue_told_ms = 0;   // ... and when (countdowns are corrected every 10 s)
  std::string lottery_told;      // the last `lottery` payload broadcast ("" none)
  bool places_running = false;   // a places_task looks up this queue's entrants' places
  bool first_admission = false;  // drawn: the next `admitted` is the draw's first (metric)
  int64_t entrants_counted = 0;  // this view's share of the draw_entrants gauge

  auto from(uint64_t order) const { return by_order.lower_bound({order, nullptr}); }
};

}  // namespace anteroom
