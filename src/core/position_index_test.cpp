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

// select(k) is the inverse of rank: the k-th member, across window moves and holes.
TEST(PositionIndex, SelectIsTheInverseOfRank) {
  PositionIndex idx;
  EXPECT_EQ(idx.select(1), 0u);
  std::set<uint64_t> ref;
  std::mt19937_64 rng(11);
  uint64_t next = 5;
  for (int step = 0; step < 20000; ++step) {
    if (ref.empty() || rng() % 3 != 0) {
      idx.insert(next);
      ref.insert(next++);
    } else {
      auto it = ref.begin();
      if (rng() % 4 == 0) std::advance(it, rng() % ref.size());
      idx.erase(*it);
      ref.erase(it);
    }
    if (step % 101 == 0 && !ref.empty()) {
      int64_t k = 1;
      for (uint64_t o : ref) {
        ASSERT_EQ(idx.select(k), o) << k;
        ASSERT_EQ(idx.rank(o), k++);
      }
      EXPECT_EQ(idx.select(0), 0u);
      EXPECT_EQ(idx.select(static_cast<int64_t>(ref.size()) + 1), 0u);
    }
  }
}

}  // namespace
}  // namespace anteroom
