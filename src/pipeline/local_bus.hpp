#pragma once
// The in-process event bus of embedded mode: the MemoryStore publishes into it, and it hands
// each event to every subscriber (the SSE hub, and the webhook dispatcher when there is no
// Kafka consumer to feed it) in order, synchronously.
//
// Not thread-safe: subscribe before events flow; publish from the store's thread.
#include <vector>

#include "core/event_sink.hpp"

namespace anteroom {

class LocalBus final : public EventSink {
 public:
  void subscribe(EventSink& s) { subs_.push_back(&s); }
  void publish(const Event& e) override {
    for (auto* s : subs_) s->publish(e);
  }

 private:
  std::vector<EventSink*> subs_;
};

}  // namespace anteroom
