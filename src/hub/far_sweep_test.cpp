#include "hub/far_sweep.hpp"

#include <gtest/gtest.h>

namespace anteroom {
namespace {

using namespace std::chrono_literals;
using Clock = FarSweep::Clock;

TEST(FarSweep, NothingPendingIsNeverDue) {
  FarSweep f;
  EXPECT_FALSE(f.pending());
  EXPECT_FALSE(f.due(Clock::time_point{} + 1h));
}

// The first far move after a quiet time is swept at once (the streams' last positions are old).
TEST(FarSweep, AFirstMoveIsDueAtOnce) {
  FarSweep f;
  f.mark(500, false);
  EXPECT_TRUE(f.pending());
  EXPECT_TRUE(f.due(Clock::time_point{} + 1ms));
}

// Marks between two sweeps add up to one range (the lowest order, any forced refresh), taken
// whole by the next sweep, which is due only an interval after the last one ended.
TEST(FarSweep, MovesBetweenSweepsAreOneSweepAnIntervalAfterTheLast) {
  FarSweep f;
  Clock::time_point t0 = Clock::time_point{} + 10s;
  f.mark(700, false);
  ASSERT_TRUE(f.due(t0));
  FarSweep::Range r = f.take();
  EXPECT_EQ(r.from, 700u);
  EXPECT_FALSE(r.all);
  EXPECT_FALSE(f.pending());
  f.swept(t0 + 30ms, 1000ms);  // its sends took 30 ms

  for (uint64_t from : {900u, 650u, 800u}) f.mark(from, false);
  f.mark(1000, true);
  EXPECT_TRUE(f.pending());
  EXPECT_FALSE(f.due(t0 + 500ms));
  EXPECT_FALSE(f.due(t0 + 1029ms)) << "an interval after the last sweep's sends ended, not began";
  EXPECT_TRUE(f.due(t0 + 1030ms));
  r = f.take();
  EXPECT_EQ(r.from, 650u);
  EXPECT_TRUE(r.all);
  EXPECT_FALSE(f.pending());
  EXPECT_FALSE(f.due(t0 + 1h)) << "swept: nothing left until the next move";
}

}  // namespace
}  // namespace anteroom
