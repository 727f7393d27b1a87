#include "core/rules.hpp"

#include <gtest/gtest.h>

namespace anteroom::rules {
namespace {

TEST(Rules, QueueNames) {
  EXPECT_TRUE(valid_queue_name("concert-2026"));
  EXPECT_TRUE(valid_queue_name("a"));
  EXPECT_TRUE(valid_queue_name(std::string(64, 'a')));
  EXPECT_FALSE(valid_queue_name(std::string(65, 'a')));
  EXPECT_FALSE(valid_queue_name(""));
  EXPECT_FALSE(valid_queue_name("-lead"));
  EXPECT_FALSE(valid_queue_name("Upper"));
  EXPECT_FALSE(valid_queue_name("a/b"));
  EXPECT_FALSE(valid_queue_name("a b"));
}

TEST(Rules, TicketIds) {
  EXPECT_TRUE(valid_ticket_id("AAAAAAAAAAAAAAAAAAAA-_"));
  EXPECT_FALSE(valid_ticket_id("AAAAAAAAAAAAAAAAAAAA="));
  EXPECT_FALSE(valid_ticket_id("short"));
}

TEST(Rules, ConfigValidation) {
  ConfigPatch p;
  p.admit_per_s = -1;
  EXPECT_FALSE(validate(p).ok());
  p.admit_per_s = 5;
  EXPECT_TRUE(validate(p).ok());
  p.target_url = "javascript:alert(1)";
  EXPECT_FALSE(validate(p).ok());
  p.target_url = "//evil.example";
  EXPECT_FALSE(validate(p).ok());
  p.target_url = "/shop";
  EXPECT_TRUE(validate(p).ok());
  p.target_url = "https://shop.example/buy?x=1";
  EXPECT_TRUE(validate(p).ok());
}

TEST(Rules, BucketAdmitsAtRateAndRespectsCapacity) {
  QueueConfig c;
  c.admit_per_s = 10;
  c.max_active = 100;
  Bucket b;
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'000'000), 0);  // starts empty
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'000'500), 5);
  EXPECT_EQ(admission_count(b, c, 5, 1000, 1'001'000), 5);
  // Idle for a minute: at most one second's worth.
  EXPECT_EQ(admission_count(b, c, 10, 1000, 1'061'000), 10);
  // Capacity bounds it.
  EXPECT_EQ(admission_count(b, c, 98, 1000, 1'062'000), 2);
  // Never more than waiting.
  EXPECT_EQ(admission_count(b, c, 0, 3, 1'070'000), 3);
  c.paused = true;
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'080'000), 0);
}

TEST(Rules, FractionalRatesAccumulate) {
  QueueConfig c;
  c.admit_per_s = 0.5;
  Bucket b;
  int64_t total = 0;
  for (Millis t = 1000; t <= 21000; t += 100) total += admission_count(b, c, 0, 1000, t);
  EXPECT_EQ(total, 10);
}

TEST(Rules, EtaUsesObservedRateThenConfigured) {
  QueueConfig c;
  c.admit_per_s = 10;
  EXPECT_EQ(eta_seconds(100, -1, c), 10);
  EXPECT_EQ(eta_seconds(100, 2, c), 50);
  c.paused = true;
  EXPECT_EQ(eta_seconds(100, 2, c), -1);
}

TEST(Rules, RateEstimatorConverges) {
  RateEstimator r;
  EXPECT_LT(r.rate(1000), 0);
  for (Millis t = 1000; t < 11000; t += 100) r.record(t, 2);  // 20/s
  EXPECT_NEAR(r.rate(11000), 20, 2);
  EXPECT_LT(r.rate(11000 + 60000), 0);
}

}  // namespace
}  // namespace anteroom::rules
