#pragma once
#include "core/types.hpp"

namespace anteroom {

// Where a store's events go once committed: the in-process bus in embedded mode. Called on the
// store's thread, in seq order per queue, after the state change is visible to readers.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void publish(const Event& e) = 0;
};

}  // namespace anteroom
