#include "core/position_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace anteroom {
namespace {

TEST(PositionIndex, RankIsPositionInLine) {
  PositionIndex idx;
  for (uint64_t o = 1; o <= 5; ++o) idx.insert(o);
  EXPECT_EQ(idx.rank(1), 1);
  EXPECT_EQ(idx.rank(5), 5);
  EXPECT_TRUE(idx.erase(2));
  EXPECT_FALSE(idx.erase(2));
  EXPECT_EQ(idx.rank(5), 4);
  EXPECT_EQ(idx.first(), 1u);
  idx.erase(1);
  EXPECT_EQ(idx.first(), 3u);
  EXPECT_EQ(idx.size(), 3);
}

TEST(PositionIndex, MatchesOrderedSetUnderRandomChurnAcrossCompactions) {
  PositionIndex idx;
  std::set<uint64_t> ref;
  std::mt19937_64 rng(7);
  uint64_t next = 1;
  for (int step = 0; step < 200000; ++step) {
    if (ref.empty() || rng() % 3 != 0) {
      idx.insert(next);
      ref.insert(next++);
    } else {
      // Mostly remove from the head (admission), sometimes from the middle (leave).
      auto it = ref.begin();
      if (rng() % 4 == 0) std::advance(it, rng() % ref.size());
      ASSERT_TRUE(idx.erase(*it));
      ref.erase(it);
    }
    if (step % 997 == 0 && !ref.empty()) {
      auto it = ref.begin();
      std::advance(it, rng() % ref.size());
      ASSERT_EQ(idx.rank(*it), static_cast<int64_t>(std::distance(ref.begin(), it)) + 1);
      ASSERT_EQ(idx.first(), *ref.begin());
    }
  }
  EXPECT_EQ(idx.size(), static_cast<int64_t>(ref.size()));
}

TEST(PositionIndex, AssignRebuilds) {
  PositionIndex idx;
  idx.assign({10, 20, 30000});
  EXPECT_EQ(idx.rank(30000), 3);
  EXPECT_EQ(idx.rank(25), 2);
  EXPECT_FALSE(idx.contains(11));
}

// The draw puts its entrants into the line as one dense range of orders: around members
// already there (before, inside and after it), each order once.
TEST(PositionIndex, InsertRangeAddsEveryOrderOnce) {
  PositionIndex idx;
  idx.insert(5);
  idx.insert(12);
  idx.insert(5000);
  idx.insert_range(10, 2009);
  EXPECT_EQ(idx.size(), 2002);  // 5, 10..2009 (12 once), 5000
  EXPECT_EQ(idx.rank(5), 1);
  EXPECT_EQ(idx.rank(10), 2);
  EXPECT_EQ(idx.rank(12), 4);
  EXPECT_EQ(idx.rank(2009), 2001);
  EXPECT_EQ(idx.rank(5000), 2002);
  EXPECT_FALSE(idx.contains(9));
  EXPECT_FALSE(idx.contains(2010));
  EXPECT_EQ(idx.first(), 5u);
  // Still an ordinary index afterwards.
  EXPECT_TRUE(idx.erase(10));
  idx.insert(6000);
  EXPECT_EQ(idx.rank(2009), 2000);
  EXPECT_EQ(idx.rank(6000), 2002);
  idx.insert_range(7, 6);  // empty
  EXPECT_EQ(idx.size(), 2002);
  PositionIndex empty;
  empty.insert_range(100, 100);
  EXPECT_EQ(empty.size(), 1);
  EXPECT_EQ(empty.rank(100), 1);
}

}  // namespace
}  // namespace anteroom
