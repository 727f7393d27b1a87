#include "hub/coalescer.hpp"

#include <gtest/gtest.h>

namespace anteroom {
namespace {

using namespace std::chrono_literals;
using Clock = CoalescedPosition::Clock;

const CoalescingRule kRule{100, 1000ms};

TEST(Coalescer, NearTheHeadEveryChangeGoesOutAtOnce) {
  CoalescedPosition p;
  Clock::time_point t0{};
  p.sent_now(60, "f60", t0);
  std::string out;
  for (int pos = 59; pos >= 50; --pos) {
    p.update(pos, "f" + std::to_string(pos));
    EXPECT_FALSE(p.drain(out, kRule, t0 + 1ms));
  }
  EXPECT_EQ(out, "f59f58f57f56f55f54f53f52f51f50");
  EXPECT_FALSE(p.pending());
}

TEST(Coalescer, FarBackAtMostOnePerIntervalOnlyTheLatest) {
  CoalescedPosition p;
  Clock::time_point t0 = Clock::time_point{} + 10s;
  p.sent_now(5000, "f5000", t0);
  std::string out;
  p.update(4999, "f4999");
  EXPECT_TRUE(p.drain(out, kRule, t0 + 100ms));  // held: the last one went out 100 ms ago
  p.update(4998, "f4998");
  EXPECT_TRUE(p.drain(out, kRule, t0 + 500ms));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(p.pending());
  // When the second is up, only the latest goes out...
  EXPECT_FALSE(p.drain(out, kRule, t0 + 1000ms));
  EXPECT_EQ(out, "f4998");
  EXPECT_FALSE(p.pending());
  // ...and the next change waits a full interval again.
  p.update(4997, "f4997");
  EXPECT_TRUE(p.drain(out, kRule, t0 + 1999ms));
  EXPECT_FALSE(p.drain(out, kRule, t0 + 2000ms));
  EXPECT_EQ(out, "f4998f4997");
}

TEST(Coalescer, FirstChangeAfterAQuietIntervalGoesAtOnce) {
  CoalescedPosition p;
  Clock::time_point t0 = Clock::time_point{} + 10s;
  p.sent_now(5000, "f5000", t0);
  std::string out;
  p.update(4990, "f4990");
  EXPECT_FALSE(p.drain(out, kRule, t0 + 3s));
  EXPECT_EQ(out, "f4990");
}

TEST(Coalescer, HeldPositionIsDroppedWhenThereIsNothingMoreToTell) {
  CoalescedPosition p;
  Clock::time_point t0 = Clock::time_point{} + 10s;
  p.sent_now(5000, "f5000", t0);
  std::string out;
  p.update(4999, "f4999");
  EXPECT_TRUE(p.drain(out, kRule, t0 + 1ms));
  p.drop();  // e.g. admitted meanwhile
  EXPECT_FALSE(p.drain(out, kRule, t0 + 5s));
  EXPECT_EQ(out, "");
}

TEST(Coalescer, CrossingIntoTheNearZoneIsSentAtOnce) {
  CoalescedPosition p;
  Clock::time_point t0 = Clock::time_point{} + 10s;
  p.sent_now(150, "f150", t0);
  std::string out;
  p.update(100, "f100");  // at the near bound: every change
  EXPECT_FALSE(p.drain(out, kRule, t0 + 1ms));
  EXPECT_EQ(out, "f100");
}

}  // namespace
}  // namespace anteroom
