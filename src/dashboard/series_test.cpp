// The pure figures: rates over the real time between samples, the ETA of the last in line, the
// ring's wrap and its memory per point.
#include "dashboard/series.hpp"

#include <gtest/gtest.h>

namespace anteroom::dashboard {
namespace {

constexpr Millis T0 = 1'767'225'600'000;

QueueInfo info(int64_t waiting, int64_t active, int64_t joined, int64_t admitted, int64_t abandoned,
               Millis oldest = 0) {
  QueueInfo q;
  q.name = "q";
  q.stats.waiting = waiting;
  q.stats.active = active;
  q.stats.joined_total = joined;
  q.stats.admitted_total = admitted;
  q.stats.abandoned_total = abandoned;
  q.stats.oldest_joined_ms = oldest;
  return q;
}

TEST(DashboardSeries, FirstSampleHasRatesZero) {
  Point p = next_point(info(3, 2, 40, 30, 5, T0 - 4'500), std::nullopt, T0);
  EXPECT_EQ(p.t, T0 / 1000);
  EXPECT_EQ(p.waiting, 3);
  EXPECT_EQ(p.active, 2);
  EXPECT_EQ(p.oldest_wait_s, 4);
  EXPECT_EQ(p.admitted_per_s, 0);
  EXPECT_EQ(p.joins_per_s, 0);
  EXPECT_EQ(p.abandoned_per_s, 0);
  EXPECT_EQ(p.eta_last_s, -1);
  EXPECT_EQ(p.streams, 0);
}

TEST(DashboardSeries, RatesAreDifferencesOverTheRealTimeBetweenSamples) {
  const Totals prev = Totals::of(info(0, 0, 100, 50, 10), T0);
  // 2.5 s later (a late sample): 25 joins, 5 admissions, 1 abandonment.
  Point p = next_point(info(0, 0, 125, 55, 11), prev, T0 + 2'500);
  EXPECT_EQ(p.joins_per_s, 10);
  EXPECT_EQ(p.admitted_per_s, 2);
  EXPECT_EQ(p.abandoned_per_s, 0.4);
  // Rounded to two decimals: 1 in 3 s.
  Point q = next_point(info(0, 0, 101, 50, 10), prev, T0 + 3'000);
  EXPECT_EQ(q.joins_per_s, 0.33);
  // No time passed (or the clock went back): no rate rather than an infinite one.
  EXPECT_EQ(next_point(info(0, 0, 200, 50, 10), prev, T0).joins_per_s, 0);
  EXPECT_EQ(next_point(info(0, 0, 200, 50, 10), prev, T0 - 1).joins_per_s, 0);
  // Nobody waits: oldest wait 0.
  EXPECT_EQ(p.oldest_wait_s, 0);
}

TEST(DashboardSeries, TotalsThatWentDownRestartTheRatesAtZero) {
  const Totals prev = Totals::of(info(0, 0, 100, 50, 10), T0);
  // The queue was forgotten and made again: its totals start over.
  for (const QueueInfo& again :
       {info(0, 0, 3, 60, 10), info(0, 0, 120, 2, 10), info(0, 0, 120, 60, 0)}) {
    Point p = next_point(again, prev, T0 + 1'000);
    EXPECT_EQ(p.joins_per_s, 0);
    EXPECT_EQ(p.admitted_per_s, 0);
    EXPECT_EQ(p.abandoned_per_s, 0);
  }
}

Point at(int64_t t, int64_t waiting, double admitted_per_s) {
  Point p;
  p.t = t;
  p.waiting = waiting;
  p.admitted_per_s = admitted_per_s;
  return p;
}

TEST(DashboardSeries, EtaIsWaitingOverTheAdmittedRateOfTheLastTenSeconds) {
  Ring ring(900);
  const int64_t s0 = T0 / 1000;
  // Long ago: fast admissions that must not count.
  for (int i = 0; i < 20; ++i) ring.push(at(s0 + i, 100, 50));
  // The last 10 s (t − 9 .. t, the current point included): 4/s on average.
  for (int i = 21; i < 30; ++i) ring.push(at(s0 + i, 100, i % 2 ? 3 : 5));
  Point cur = at(s0 + 30, 100, 4);
  // Points t = s0+21 .. s0+29 (9) and cur: 3,5,3,5,3,5,3,5,3 and 4 → mean 3.9.
  EXPECT_EQ(eta_last_s(ring, cur), 26);  // ceil(100 / 3.9)
  // Nobody admitted lately: no estimate.
  Ring idle(900);
  for (int i = 0; i < 20; ++i) idle.push(at(s0 + i, 5, i < 5 ? 10 : 0));
  EXPECT_EQ(eta_last_s(idle, at(s0 + 20, 5, 0)), -1);
  // Nobody waits: the last in line is in.
  EXPECT_EQ(eta_last_s(idle, at(s0 + 20, 0, 0)), 0);
  // A first point alone.
  EXPECT_EQ(eta_last_s(Ring(900), at(s0, 10, 2.5)), 4);
}

TEST(DashboardSeries, RingKeepsTheLastPointsOldestFirst) {
  Ring ring(5);
  for (int i = 1; i <= 3; ++i) ring.push(at(i, i, 0));
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.at(0).t, 1);
  EXPECT_EQ(ring.at(2).t, 3);
  for (int i = 4; i <= 12; ++i) ring.push(at(i, i, 0));
  ASSERT_EQ(ring.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(ring.at(i).t, 8 + static_cast<int64_t>(i));
    EXPECT_EQ(ring.at(i).waiting, 8 + static_cast<int64_t>(i));
  }
  // Memory: fixed once full, 36 bytes a point (1,000 queues × 900 points ≈ 32 MB).
  EXPECT_LE(sizeof(PackedPoint), 40u);
  Ring full(900);
  for (int i = 0; i < 5000; ++i) full.push(at(i, 1, 0));
  EXPECT_EQ(full.size(), 900u);
  EXPECT_LE(full.bytes(), 900u * 40u);
}

TEST(DashboardSeries, PackingKeepsWhatTheFrameShows) {
  Point p;
  p.t = T0 / 1000;
  p.waiting = 123456;
  p.active = 789;
  p.admitted_per_s = 9.87;
  p.joins_per_s = 25;
  p.abandoned_per_s = 0.01;
  p.oldest_wait_s = 14;
  p.eta_last_s = -1;
  p.streams = 118;
  Point q = PackedPoint::pack(p).unpack();
  EXPECT_EQ(q.t, p.t);
  EXPECT_EQ(q.waiting, p.waiting);
  EXPECT_EQ(q.active, p.active);
  EXPECT_DOUBLE_EQ(q.admitted_per_s, 9.87);
  EXPECT_DOUBLE_EQ(q.joins_per_s, 25);
  EXPECT_DOUBLE_EQ(q.abandoned_per_s, 0.01);
  EXPECT_EQ(q.oldest_wait_s, 14);
  EXPECT_EQ(q.eta_last_s, -1);
  EXPECT_EQ(q.streams, 118);
  // Beyond 32 bits: saturated, never wrapped to a negative count.
  p.waiting = int64_t{1} << 40;
  EXPECT_EQ(PackedPoint::pack(p).unpack().waiting, INT32_MAX);
}

TEST(DashboardSeries, PointJsonIsTheDocumentedObject) {
  Point p;
  p.t = 1767225600;
  p.waiting = 3;
  p.active = 2;
  p.admitted_per_s = 2;
  p.joins_per_s = 5;
  p.abandoned_per_s = 0.25;
  p.oldest_wait_s = 4;
  p.eta_last_s = 2;
  p.streams = 3;
  std::string s;
  views::JsonWriter w(s);
  point_fields(w, p);
  w.close();
  EXPECT_EQ(s, R"({"t":1767225600,"waiting":3,"active":2,"admitted_per_s":2,"joins_per_s":5,)"
               R"("abandoned_per_s":0.25,"oldest_wait_s":4,"eta_last_s":2,"streams":3})");
  std::string row;
  views::JsonWriter r(row);
  r.str("name", "q");
  point_fields(r, p);
  r.close();
  EXPECT_EQ(row, R"({"name":"q","t":1767225600,"waiting":3,"active":2,"admitted_per_s":2,)"
                 R"("joins_per_s":5,"abandoned_per_s":0.25,"oldest_wait_s":4,"eta_last_s":2,)"
                 R"("streams":3})");
}

}  // namespace
}  // namespace anteroom::dashboard
