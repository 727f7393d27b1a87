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
  f.begin();
  EXPECT_EQ(f.current().from, 700u);
  EXPECT_FALSE(f.current().all);
  EXPECT_FALSE(f.pending());
  f.advance(FarSweep::kNone);  // one slice did it all
  EXPECT_FALSE(f.sweeping());
  f.swept(t0 + 30ms, 1000ms);  // its sends took 30 ms

  for (uint64_t from : {900u, 650u, 800u}) f.mark(from, false);
  f.mark(1000, true);
  EXPECT_TRUE(f.pending());
  EXPECT_FALSE(f.due(t0 + 500ms));
  EXPECT_FALSE(f.due(t0 + 1029ms)) << "an interval after the last sweep's sends ended, not began";
  EXPECT_TRUE(f.due(t0 + 1030ms));
  f.begin();
  EXPECT_EQ(f.current().from, 650u);
  EXPECT_TRUE(f.current().all);
  EXPECT_FALSE(f.pending());
  f.advance(FarSweep::kNone);
  f.swept(t0 + 1040ms, 1000ms);
  EXPECT_FALSE(f.due(t0 + 1h)) << "swept: nothing left until the next move";
}

// A sweep in slices: each goes on where the last stopped, due at once (not an interval later)
// until it is over; what moved meanwhile waits for the next sweep.
TEST(FarSweep, ASweepInSlicesGoesOnAtOnceWhatMovesMeanwhileIsTheNext) {
  FarSweep f;
  Clock::time_point t0 = Clock::time_point{} + 10s;
  f.mark(100, true);
  f.begin();
  f.advance(5000);  // the first slice ended before order 5000
  EXPECT_TRUE(f.sweeping());
  EXPECT_TRUE(f.due(t0));
  f.mark(50, false);  // a move behind the sweep's cursor
  EXPECT_EQ(f.current().from, 5000u);
  EXPECT_TRUE(f.current().all);
  f.advance(FarSweep::kNone);
  f.swept(t0, 1000ms);
  EXPECT_TRUE(f.pending());
  EXPECT_FALSE(f.due(t0 + 999ms));
  ASSERT_TRUE(f.due(t0 + 1000ms));
  f.begin();
  EXPECT_EQ(f.current().from, 50u);
  EXPECT_FALSE(f.current().all);
}

}  // namespace
}  // namespace anteroom
