// One update reaching many streams at once: with --parallel-send-min below the number of streams,
// the hub sends half of them from its helper thread. Every visitor must still see exactly its
// own new position, every time the line moves.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/sse_fleet.hpp"

namespace anteroom::testing {
namespace {

using namespace std::chrono_literals;

TEST(Fanout, EveryStreamGetsItsOwnPositionWhenTheLineMoves) {
  AnteroomProcess server({"--parallel-send-min", "50"});
  server.MustPutQueue("line", {{"max_active", 0}});
  constexpr int kVisitors = 300;
  std::vector<std::string> tickets;
  for (int i = 0; i < kVisitors; ++i) tickets.push_back(server.MustJoin("line"));

  SseFleet fleet;
  std::vector<SseFleet::Id> ids;
  for (auto& t : tickets) ids.push_back(fleet.Open(server.port(), "line", t));
  // Position of visitor i after `gone` visitors ahead of everyone left.
  auto all_at = [&](int gone) {
    return [&, gone](const std::deque<StreamView>& views) {
      for (int i = gone; i < kVisitors; ++i)
        if (views[ids[i]].position != i + 1 - gone) return false;
      return true;
    };
  };
  ASSERT_TRUE(fleet.WaitUntil(all_at(0), DeadlineIn(10s))) << "streams did not all open";

  // Each leave moves all the others up by one: one flush for ~300 streams, split between the
  // two sending threads. (Visitors past position 100 get at most one update a second.)
  for (int gone = 1; gone <= 3; ++gone) {
    HttpResponse left = server.Leave("line", tickets[gone - 1]);
    ASSERT_EQ(left.status, 200) << left;
    ASSERT_TRUE(fleet.WaitUntil(all_at(gone), DeadlineIn(10s)))
        << "not every stream got its position after " << gone << " left";
  }
  fleet.With([&](const std::deque<StreamView>& views) {
    for (int i = 3; i < kVisitors; ++i) {
      EXPECT_FALSE(views[ids[i]].closed) << "stream " << i << ": " << views[ids[i]].failure;
      EXPECT_EQ(views[ids[i]].State(), "waiting");
    }
  });
}

// The line watches while the crowd joins: a join is behind every open stream and moves nobody,
// so it costs no stream a recomputed position; a leave costs exactly the streams behind it.
TEST(Fanout, JoinsBehindOpenStreamsCostThemNothingALeaveOnlyThoseBehind) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  constexpr int kVisitors = 20;
  std::vector<std::string> tickets;
  for (int i = 0; i < kVisitors; ++i) tickets.push_back(server.MustJoin("line"));
  SseFleet fleet;
  std::vector<SseFleet::Id> ids;
  for (auto& t : tickets) ids.push_back(fleet.Open(server.port(), "line", t));
  ASSERT_TRUE(fleet.WaitUntil(
      [&](const std::deque<StreamView>& views) {
        for (int i = 0; i < kVisitors; ++i)
          if (views[ids[i]].position != i + 1) return false;
        return true;
      },
      DeadlineIn(10s)))
      << "streams did not all open";
  auto ranked = [&] {
    return SumMetric(server.Metrics().body, "anteroom_hub_positions_ranked_total").value_or(-1);
  };
  double before = ranked();
  ASSERT_GE(before, 0) << server.Metrics().body;

  for (int i = 0; i < 200; ++i) server.MustJoin("line");
  // Visitor 10 (position 11) leaves: the 9 behind move up. Events apply in order, so once they
  // have, every join above has been applied too.
  HttpResponse left = server.Leave("line", tickets[10]);
  ASSERT_EQ(left.status, 200) << left;
  ASSERT_TRUE(fleet.WaitUntil(
      [&](const std::deque<StreamView>& views) {
        for (int i = 11; i < kVisitors; ++i)
          if (views[ids[i]].position != i) return false;
        return true;
      },
      DeadlineIn(10s)))
      << "the streams behind the leaver did not move up";
  EXPECT_EQ(ranked() - before, kVisitors - 11)
      << "200 joins and one leave must recompute exactly the streams behind the leaver";
  fleet.With([&](const std::deque<StreamView>& views) {
    for (int i = 0; i < 10; ++i) EXPECT_EQ(views[ids[i]].position, i + 1) << "visitor " << i;
  });
}

}  // namespace
}  // namespace anteroom::testing
