#include "store/memory_store.hpp"

#include "store/conformance/harness.hpp"

namespace anteroom::conformance {
namespace {

class MemoryHarness : public StoreHarness, public EventSink {
 public:
  MemoryHarness() : store_(*this, StoreLimits{.max_queues = 3}) {}
  QueueStore& store() override { return store_; }
  std::vector<Event> events(const std::string& q) override {
    std::vector<Event> out;
    for (auto& e : events_)
      if (e.queue == q) out.push_back(e);
    return out;
  }
  void publish(const Event& e) override { events_.push_back(e); }

 private:
  std::vector<Event> events_;
  MemoryStore store_;
};

std::unique_ptr<StoreHarness> make_memory() { return std::make_unique<MemoryHarness>(); }

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance, ::testing::Values(&make_memory),
                         harness_name);

}  // namespace
}  // namespace anteroom::conformance
