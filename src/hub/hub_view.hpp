#pragma once
// (Internal to the hub: hub.cpp and hub_tasks.cpp.) One queue's view plus this process's
// streams of it.
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

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
  Millis last_touch_ms = 0;

  auto from(uint64_t order) const { return by_order.lower_bound({order, nullptr}); }
};

}  // namespace anteroom
