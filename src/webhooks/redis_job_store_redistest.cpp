// RedisJobStore against the WebhookJobStore conformance suite, on a real redis-server (one fresh
// server per test), standalone and as a one-node Redis Cluster (which refuses cross-slot
// commands and scripts as a real cluster does). Then the move of jobs a version before left in
// the global job index.
#include <algorithm>
#include <cstdlib>
#include <set>

#include "store/redis/keys.hpp"
#include "support/redis_server.hpp"
#include "webhooks/job_store_conformance/harness.hpp"
#include "webhooks/redis_job_store.hpp"

namespace anteroom::conformance {
namespace {

testing::RedisServer::Options cluster_of(bool cluster) {
  testing::RedisServer::Options o;
  o.cluster = cluster;
  return o;
}

redis::RedisOptions options_for(const testing::RedisServer& server) {
  redis::RedisOptions o;
  o.port = server.port();
  o.cluster = server.cluster();
  return o;
}

class RedisJobHarness : public JobStoreHarness {
 public:
  explicit RedisJobHarness(bool cluster)
      : server_(cluster_of(cluster)), client_(io, options_for(server_)), jobs_(client_) {}
  WebhookJobStore& jobs() override { return jobs_; }

 private:
  testing::RedisServer server_;
  redis::RedisClient client_;
  RedisJobStore jobs_;
};

std::unique_ptr<JobStoreHarness> make_redis() { return std::make_unique<RedisJobHarness>(false); }
std::unique_ptr<JobStoreHarness> make_redis_cluster() {
  return std::make_unique<RedisJobHarness>(true);
}

INSTANTIATE_TEST_SUITE_P(Redis, JobStoreConformance, ::testing::Values(&make_redis),
                         job_harness_name);
INSTANTIATE_TEST_SUITE_P(RedisCluster, JobStoreConformance, ::testing::Values(&make_redis_cluster),
                         job_harness_name);

constexpr Millis T0 = 1'700'000'000'000;

WebhookJob job(const std::string& queue, int64_t seq) {
  WebhookJob j;
  j.event_id = queue + ":" + std::to_string(seq);
  j.id = j.event_id + "#0";
  j.queue = queue;
  j.type = "admitted";
  j.url = "http://127.0.0.1:9/hook";
  j.body = R"({"id":")" + j.event_id + R"("})";
  j.first_ms = T0;
  return j;
}

// The io_context and the run() of a harness, for a test that builds its own store.
struct Io final : JobStoreHarness {
  WebhookJobStore& jobs() override { std::abort(); }
};

// Tests of the Redis job store itself, standalone and on a one-node cluster.
class RedisJobStoreModes : public ::testing::TestWithParam<bool> {};

// Jobs a version before this one left in aq:wh:due / aq:wh:jobs (written here as it wrote them:
// each key alone, which a cluster allows) are claimed, completed and gone from the old keys.
TEST_P(RedisJobStoreModes, JobsInTheGlobalIndexOfTheVersionBeforeAreStillDelivered) {
  testing::RedisServer server(cluster_of(GetParam()));
  Io h;
  redis::RedisClient client(h.io, options_for(server));
  RedisJobStore store(client);
  auto cmd = [&](std::vector<std::string> argv) {
    auto r = h.run(client.command(std::move(argv)));
    EXPECT_TRUE(r.ok() && !r->is_error()) << (r ? r->str : r.error().message);
  };
  const WebhookJob a = job("qa", 1), b = job("qb", 7);
  for (const WebhookJob* j : {&a, &b}) {
    cmd({"HSET", std::string(redis_keys::kLegacyWebhookJobs), j->id, encode_job(*j)});
    cmd({"ZADD", std::string(redis_keys::kLegacyWebhookDue), std::to_string(T0), j->id});
  }
  // A job of the old index leased until later is not due before its lease ends.
  const WebhookJob c = job("qa", 2);
  cmd({"HSET", std::string(redis_keys::kLegacyWebhookJobs), c.id, encode_job(c)});
  cmd({"ZADD", std::string(redis_keys::kLegacyWebhookDue), std::to_string(T0 + 5000), c.id});

  auto due = h.run(store.claim_due(T0, 10, 1000));
  ASSERT_TRUE(due.ok()) << due.error().message;
  std::vector<std::string> got;
  for (auto& j : *due) got.push_back(j.id);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{a.id, b.id}));
  for (auto& j : *due) ASSERT_TRUE(h.run(store.complete(j)).ok());

  auto later = h.run(store.claim_due(T0 + 5000, 10, 1000));
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ(later->at(0).id, c.id);
  ASSERT_TRUE(h.run(store.complete(later->at(0))).ok());

  for (auto key : {redis_keys::kLegacyWebhookJobs, redis_keys::kLegacyWebhookDue}) {
    auto n = h.run(client.command({"EXISTS", std::string(key)}));
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->integer, 0) << key;
  }
  EXPECT_TRUE(h.run(store.claim_due(T0 + 100'000, 10, 1000))->empty());
}

// The list of queues with jobs (aq:wh:queues) follows the jobs: a queue leaves it once a claim
// finds it empty and is listed again by its next event; a job taken in by one process is claimed
// by another (a fresh store: its first claim reads the list).
TEST_P(RedisJobStoreModes, TheQueueListFollowsTheJobsAcrossProcesses) {
  testing::RedisServer server(cluster_of(GetParam()));
  Io h;
  redis::RedisClient client(h.io, options_for(server));
  RedisJobStore intake(client), other(client);
  auto listed = [&] {
    auto r = h.run(client.command({"SMEMBERS", std::string(redis_keys::kWebhookQueues)}));
    std::vector<std::string> out;
    for (auto& e : r.value().elements) out.push_back(e.str);
    std::sort(out.begin(), out.end());
    return out;
  };
  ASSERT_TRUE(h.run(intake.enqueue("qa", "qa:1", {job("qa", 1)}, T0)).value());
  EXPECT_EQ(listed(), std::vector<std::string>{"qa"});
  auto due = h.run(other.claim_due(T0, 10, 1000));
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  ASSERT_TRUE(h.run(other.complete(due->at(0))).ok());
  EXPECT_TRUE(h.run(other.claim_due(T0 + 1, 10, 1000))->empty());
  EXPECT_TRUE(listed().empty()) << "a queue without jobs stays listed";
  ASSERT_TRUE(h.run(intake.enqueue("qa", "qa:2", {job("qa", 2)}, T0 + 2)).value());
  EXPECT_EQ(listed(), std::vector<std::string>{"qa"});
  EXPECT_EQ(h.run(intake.claim_due(T0 + 2, 10, 1000))->size(), 1u);
}

// One claim runs at most kQueuesPerClaim queue scripts; the next goes on where it stopped, so
// every queue's jobs are claimed, each once.
TEST_P(RedisJobStoreModes, AClaimVisitsABoundedNumberOfQueuesRoundRobin) {
  testing::RedisServer server(cluster_of(GetParam()));
  Io h;
  redis::RedisClient client(h.io, options_for(server));
  RedisJobStore store(client);
  const size_t n = RedisJobStore::kQueuesPerClaim + 6;
  for (size_t i = 0; i < n; ++i) {
    const std::string q = "q" + std::to_string(i);
    ASSERT_TRUE(h.run(store.enqueue(q, q + ":1", {job(q, 1)}, T0)).value());
  }
  auto first = h.run(store.claim_due(T0, 1000, 60'000));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), RedisJobStore::kQueuesPerClaim);
  auto second = h.run(store.claim_due(T0, 1000, 60'000));
  ASSERT_TRUE(second.ok());
  std::set<std::string> ids;
  for (auto* batch : {&*first, &*second})
    for (auto& j : *batch) EXPECT_TRUE(ids.insert(j.id).second) << j.id << " claimed twice";
  EXPECT_EQ(ids.size(), n);
}

INSTANTIATE_TEST_SUITE_P(Modes, RedisJobStoreModes, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "cluster" : "standalone";
                         });

}  // namespace
}  // namespace anteroom::conformance
