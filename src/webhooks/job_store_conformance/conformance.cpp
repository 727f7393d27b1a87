// The behaviour every WebhookJobStore promises (job_store.hpp). Time is passed explicitly, so
// nothing here sleeps.
#include <algorithm>

#include "webhooks/job_store_conformance/harness.hpp"

namespace anteroom::conformance {
namespace {

constexpr Millis T0 = 1'700'000'000'000;
constexpr Millis kLease = 10'000;

// The jobs of event <queue>:<seq>, one per hook.
std::vector<WebhookJob> jobs_of(const std::string& queue, int64_t seq, int hooks, Millis now) {
  std::vector<WebhookJob> out;
  for (int i = 0; i < hooks; ++i) {
    WebhookJob j;
    j.event_id = queue + ":" + std::to_string(seq);
    j.id = j.event_id + "#" + std::to_string(i);
    j.queue = queue;
    j.type = "admitted";
    j.url = "http://127.0.0.1:9/hook/" + std::to_string(i);
    j.secret = i % 2 ? "" : "s3cret";
    j.body = R"({"id":")" + j.event_id + R"(","type":"admitted"})";
    j.first_ms = now;
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<std::string> ids(std::vector<WebhookJob> jobs) {
  std::vector<std::string> out;
  for (auto& j : jobs) out.push_back(j.id);
  std::sort(out.begin(), out.end());
  return out;
}

void expect_same_job(const WebhookJob& a, const WebhookJob& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.queue, b.queue);
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.secret, b.secret);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.first_ms, b.first_ms);
  EXPECT_EQ(a.last_error, b.last_error);
}

TEST_P(JobStoreConformance, NothingIsDueInAnEmptyStore) {
  auto due = run(s().claim_due(T0, 10, kLease));
  ASSERT_TRUE(due.ok()) << due.error().message;
  EXPECT_TRUE(due->empty());
  EXPECT_TRUE(run(s().dead("q"))->empty());
  EXPECT_EQ(run(s().redrive("q", T0)).value(), 0);
}

TEST_P(JobStoreConformance, TakesInAnEventOnceAndKeepsEveryField) {
  auto jobs = jobs_of("q", 1, 2, T0);
  auto taken = run(s().enqueue("q", "q:1", jobs, T0));
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_TRUE(*taken);
  // A redelivery (Kafka, another process's copy) is not taken in again, even with other jobs.
  auto again = run(s().enqueue("q", "q:1", jobs_of("q", 1, 3, T0 + 5), T0 + 5));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  // Another event of the same queue is.
  EXPECT_TRUE(run(s().enqueue("q", "q:2", jobs_of("q", 2, 1, T0), T0)).value());

  auto due = run(s().claim_due(T0 + 5, 10, kLease));
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(ids(*due), (std::vector<std::string>{"q:1#0", "q:1#1", "q:2#0"}));
  for (const auto& j : *due)
    if (j.id == "q:1#1") expect_same_job(j, jobs[1]);
}

TEST_P(JobStoreConformance, JobsAreNotDueBeforeTheyAreTakenIn) {
  ASSERT_TRUE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 1, T0), T0)).value());
  EXPECT_TRUE(run(s().claim_due(T0 - 1, 10, kLease))->empty());
  EXPECT_EQ(run(s().claim_due(T0, 10, kLease))->size(), 1u);
}

TEST_P(JobStoreConformance, ClaimLeasesTheJobUntilTheLeaseRunsOut) {
  ASSERT_TRUE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 1, T0), T0)).value());
  ASSERT_EQ(run(s().claim_due(T0, 10, kLease))->size(), 1u);
  // Ours while we POST it: nobody else claims it...
  EXPECT_TRUE(run(s().claim_due(T0 + kLease - 1, 10, kLease))->empty());
  // ...until the lease runs out (we died mid-POST): then it is claimed again, whole.
  auto again = run(s().claim_due(T0 + kLease, 10, kLease));
  ASSERT_EQ(again->size(), 1u);
  expect_same_job((*again)[0], jobs_of("q", 1, 1, T0)[0]);
}

TEST_P(JobStoreConformance, ClaimTakesAtMostLimitOldestFirst) {
  ASSERT_TRUE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 1, T0), T0)).value());
  ASSERT_TRUE(run(s().enqueue("q", "q:2", jobs_of("q", 2, 1, T0 + 1), T0 + 1)).value());
  ASSERT_TRUE(run(s().enqueue("q", "q:3", jobs_of("q", 3, 1, T0 + 2), T0 + 2)).value());
  auto first = run(s().claim_due(T0 + 10, 2, kLease));
  EXPECT_EQ(ids(*first), (std::vector<std::string>{"q:1#0", "q:2#0"}));
  auto rest = run(s().claim_due(T0 + 10, 2, kLease));
  EXPECT_EQ(ids(*rest), (std::vector<std::string>{"q:3#0"}));
}

TEST_P(JobStoreConformance, CompletedJobsAreGoneForGood) {
  ASSERT_TRUE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 2, T0), T0)).value());
  auto due = run(s().claim_due(T0, 10, kLease));
  ASSERT_EQ(due->size(), 2u);
  ASSERT_TRUE(run(s().complete((*due)[0])).ok());
  // A late reschedule (a slow attempt racing the one that succeeded) does not bring it back.
  ASSERT_TRUE(run(s().reschedule((*due)[0], T0 + 1)).ok());
  auto later = run(s().claim_due(T0 + 10 * kLease, 10, kLease));
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].id, (*due)[1].id);
  EXPECT_TRUE(run(s().dead("q"))->empty());
}

TEST_P(JobStoreConformance, RescheduleStoresTheAttemptAndTheNewDueTime) {
  ASSERT_TRUE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 1, T0), T0)).value());
  auto j = run(s().claim_due(T0, 10, kLease)).value().at(0);
  j.attempts = 1;
  j.last_error = "HTTP 503";
  ASSERT_TRUE(run(s().reschedule(j, T0 + 500)).ok());
  // The new due time replaces the lease, earlier or later.
  EXPECT_TRUE(run(s().claim_due(T0 + 499, 10, kLease))->empty());
  auto retry = run(s().claim_due(T0 + 500, 10, kLease));
  ASSERT_EQ(retry->size(), 1u);
  expect_same_job((*retry)[0], j);
  auto k = (*retry)[0];
  k.attempts = 2;
  k.last_error = "connect refused";
  ASSERT_TRUE(run(s().reschedule(k, T0 + 500 + 2 * kLease)).ok());
  EXPECT_TRUE(run(s().claim_due(T0 + 500 + kLease, 10, kLease))->empty());
  auto third = run(s().claim_due(T0 + 500 + 2 * kLease, 10, kLease));
  ASSERT_EQ(third->size(), 1u);
  expect_same_job((*third)[0], k);
}

TEST_P(JobStoreConformance, BuriedJobsWaitInTheirQueuesDeadLetters) {
  ASSERT_TRUE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 2, T0), T0)).value());
  ASSERT_TRUE(run(s().enqueue("r", "r:1", jobs_of("r", 1, 1, T0), T0)).value());
  auto due = run(s().claim_due(T0, 10, kLease)).value();
  ASSERT_EQ(due.size(), 3u);
  std::vector<WebhookJob> buried;
  for (auto j : due) {
    if (j.queue != "q") continue;
    j.attempts = 7;
    j.last_error = "HTTP 500";
    ASSERT_TRUE(run(s().bury(j)).ok());
    buried.push_back(j);
  }
  // Not claimed again, ever.
  auto later = run(s().claim_due(T0 + 100 * kLease, 10, kLease));
  EXPECT_EQ(ids(*later), (std::vector<std::string>{"r:1#0"}));
  auto dead = run(s().dead("q"));
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(ids(*dead), ids(buried));
  for (const auto& d : *dead)
    for (const auto& b : buried)
      if (d.id == b.id) expect_same_job(d, b);
  EXPECT_TRUE(run(s().dead("r"))->empty());
}

TEST_P(JobStoreConformance, RedrivePutsDeadJobsBackDueNowWithAFreshWindow) {
  ASSERT_TRUE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 2, T0), T0)).value());
  ASSERT_TRUE(run(s().enqueue("r", "r:1", jobs_of("r", 1, 1, T0), T0)).value());
  auto claimed = run(s().claim_due(T0, 10, kLease)).value();
  ASSERT_EQ(claimed.size(), 3u);
  for (auto j : claimed) {
    j.attempts = 9;
    j.last_error = "HTTP 500";
    ASSERT_TRUE(run(s().bury(j)).ok());
  }
  const Millis t1 = T0 + 3'600'000;
  auto n = run(s().redrive("q", t1));
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 2);
  EXPECT_TRUE(run(s().dead("q"))->empty());
  EXPECT_EQ(run(s().dead("r"))->size(), 1u) << "another queue's dead letters stay";
  EXPECT_TRUE(run(s().claim_due(t1 - 1, 10, kLease))->empty());
  auto due = run(s().claim_due(t1, 10, kLease));
  ASSERT_EQ(ids(*due), (std::vector<std::string>{"q:1#0", "q:1#1"}));
  for (const auto& j : *due) {
    EXPECT_EQ(j.attempts, 0) << j.id;
    EXPECT_EQ(j.first_ms, t1) << j.id << ": the retry window starts again";
  }
  EXPECT_EQ(run(s().redrive("q", t1)).value(), 0) << "nothing left to redrive";
  // A redriven event is still one taken in: its redelivery is not taken in again.
  EXPECT_FALSE(run(s().enqueue("q", "q:1", jobs_of("q", 1, 2, t1), t1)).value());
}

}  // namespace
}  // namespace anteroom::conformance
