// MemoryJobStore against the WebhookJobStore conformance suite.
#include "webhooks/memory_job_store.hpp"

#include "webhooks/job_store_conformance/harness.hpp"

namespace anteroom::conformance {
namespace {

class MemoryJobHarness : public JobStoreHarness {
 public:
  WebhookJobStore& jobs() override { return jobs_; }

 private:
  MemoryJobStore jobs_;
};

std::unique_ptr<JobStoreHarness> make_memory() { return std::make_unique<MemoryJobHarness>(); }

INSTANTIATE_TEST_SUITE_P(Memory, JobStoreConformance, ::testing::Values(&make_memory),
                         job_harness_name);

}  // namespace
}  // namespace anteroom::conformance
