#include "http/limits.hpp"

#include <gtest/gtest.h>

namespace anteroom::http {
namespace {

TEST(ConnectionLimiter, CountsPerIpAndTotal) {
  ConnectionLimiter c(3, 2);
  EXPECT_TRUE(c.acquire("a"));
  EXPECT_TRUE(c.acquire("a"));
  EXPECT_FALSE(c.acquire("a"));
  EXPECT_TRUE(c.acquire("b"));
  EXPECT_FALSE(c.acquire("c"));  // total reached
  c.release("a");
  EXPECT_TRUE(c.acquire("c"));
  EXPECT_EQ(c.total(), 3);
}

TEST(RateLimiter, BurstThenRate) {
  RateLimiter r(2, 3);
  EXPECT_TRUE(r.allow("x", 0));
  EXPECT_TRUE(r.allow("x", 0));
  EXPECT_TRUE(r.allow("x", 0));
  EXPECT_FALSE(r.allow("x", 0));
  EXPECT_TRUE(r.allow("y", 0));  // others unaffected
  EXPECT_TRUE(r.allow("x", 500));
  EXPECT_FALSE(r.allow("x", 500));
  RateLimiter off(0, 0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(off.allow("x", 0));
}

}  // namespace
}  // namespace anteroom::http
