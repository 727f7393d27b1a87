// RedisJobStore against the WebhookJobStore conformance suite, on a real redis-server (one fresh
// server per test).
#include "webhooks/redis_job_store.hpp"

#include "support/redis_server.hpp"
#include "webhooks/job_store_conformance/harness.hpp"

namespace anteroom::conformance {
namespace {

redis::RedisOptions options_for(const testing::RedisServer& server) {
  redis::RedisOptions o;
  o.port = server.port();
  return o;
}

class RedisJobHarness : public JobStoreHarness {
 public:
  RedisJobHarness() : client_(io, options_for(server_)), jobs_(client_) {}
  WebhookJobStore& jobs() override { return jobs_; }

 private:
  testing::RedisServer server_;
  redis::RedisClient client_;
  RedisJobStore jobs_;
};

std::unique_ptr<JobStoreHarness> make_redis() { return std::make_unique<RedisJobHarness>(); }

INSTANTIATE_TEST_SUITE_P(Redis, JobStoreConformance, ::testing::Values(&make_redis),
                         job_harness_name);

}  // namespace
}  // namespace anteroom::conformance
