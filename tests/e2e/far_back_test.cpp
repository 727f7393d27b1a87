// The hub's far sweep (src/hub/far_sweep.hpp): a flush ranks only the moved streams near the
// head; the moved ones further back (told at most one position a second anyway) are ranked by
// a sweep at most once per far interval. Near-head visitors must still see every change, every
// visitor its final position, and the work (anteroom_hub_positions_ranked_total) must be what
// the design says: counts, not time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/sse_fleet.hpp"

namespace anteroom::testing {
namespace {

using namespace std::chrono_literals;

TEST(FarBackStreams, NearHeadSeeEveryChangeEveryoneTheFinalPositionFarOnesAreRankedBySweeps) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  constexpr int kVisitors = 300, kLeaves = 20, kNear = 100;  // (kNear: --near-position's default)
  std::vector<std::string> tickets;
  for (int i = 0; i < kVisitors; ++i) tickets.push_back(server.MustJoin("line"));
  SseFleet fleet;
  std::vector<SseFleet::Id> ids;
  for (auto& t : tickets) ids.push_back(fleet.Open(server.port(), "line", t));
  // Visitor i's position once `gone` visitors at the head have left, for i in [from, to).
  auto at = [&](int gone, int from, int to) {
    return [&, gone, from, to](const std::deque<StreamView>& views) {
      for (int i = from; i < to; ++i)
        if (views[ids[i]].position != i + 1 - gone) return false;
      return true;
    };
  };
  ASSERT_TRUE(fleet.WaitUntil(at(0, 0, kVisitors), DeadlineIn(10s))) << "streams did not all open";
  auto metric = [&](const HttpResponse& m, const char* name) {
    return SumMetric(m.body, name).value_or(-1);
  };
  HttpResponse m0 = server.Metrics();
  double ranked0 = metric(m0, "anteroom_hub_positions_ranked_total");
  double sweeps0 = metric(m0, "anteroom_hub_far_sweeps_total");
  double released0 = metric(m0, "anteroom_hub_held_released_total");
  ASSERT_GE(ranked0, 0) << m0.body;
  ASSERT_GE(sweeps0, 0) << m0.body;
  ASSERT_GE(released0, 0) << m0.body;

  // One leave at a time from the head: each is its own flush, and moves every stream behind.
  for (int gone = 1; gone <= kLeaves; ++gone) {
    HttpResponse left = server.Leave("line", tickets[gone - 1]);
    ASSERT_EQ(left.status, 200) << left;
    ASSERT_TRUE(fleet.WaitUntil(at(gone, gone, gone + kNear), DeadlineIn(10s)))
        << "the near-head streams were not told their position after " << gone << " left";
  }
  ASSERT_TRUE(fleet.WaitUntil(at(kLeaves, kLeaves, kVisitors), DeadlineIn(10s)))
      << "a far-back stream never got its final position";

  HttpResponse m1 = server.Metrics();
  double ranked = metric(m1, "anteroom_hub_positions_ranked_total") - ranked0;
  double sweeps = metric(m1, "anteroom_hub_far_sweeps_total") - sweeps0;
  double released = metric(m1, "anteroom_hub_held_released_total") - released0;
  EXPECT_GE(sweeps, 1) << "the far-back streams' positions came from no sweep";
  // Each leave's flush ranks the near head (≤ kNear streams) and the first stream beyond it;
  // each sweep at most every stream; each held position let out, one. Ranking everything behind
  // the leaver on every flush (the design before) would be ~kLeaves · 290 = 5800.
  EXPECT_LE(ranked, kLeaves * (kNear + 1) + sweeps * kVisitors + released)
      << "sweeps " << sweeps << ", released " << released;
  fleet.With([&](const std::deque<StreamView>& views) {
    for (int i = kLeaves; i < kVisitors; ++i) {
      EXPECT_FALSE(views[ids[i]].closed) << "stream " << i << ": " << views[ids[i]].failure;
      EXPECT_EQ(views[ids[i]].State(), "waiting") << "stream " << i;
    }
    // Near the head from the start to the end: its first position, then every change.
    for (int i = kLeaves; i < kNear; ++i)
      EXPECT_EQ(views[ids[i]].events, 1 + kLeaves) << "visitor at position " << i + 1;
  });
}

}  // namespace
}  // namespace anteroom::testing
