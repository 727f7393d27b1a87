#pragma once
// A queue's figures over time, as pure functions and one compact ring: no I/O, no clock (every
// time is passed in), so the rates, the ETA and the ring's wrap are tested without a store.
//
// Memory: the dashboard keeps history_points (900) points per live queue. A Point is 72 bytes;
// the ring keeps each as 36 (PackedPoint: 32-bit fields, rates in hundredths, which is all the
// frame shows of them), so 1,000 queues × 900 points ≈ 32 MB.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "dashboard/dashboard.hpp"
#include "views/json_writer.hpp"

namespace anteroom::dashboard {

// The store's running totals of a queue at one sample, to difference against the next.
struct Totals {
  Millis at_ms = 0;
  int64_t joined = 0;
  int64_t admitted = 0;
  int64_t abandoned = 0;

  static Totals of(const QueueInfo& q, Millis at_ms) {
    return {at_ms, q.stats.joined_total, q.stats.admitted_total, q.stats.abandoned_total};
  }
};

// A rate rounded to two decimals (what the frame shows of it).
double two_decimals(double v);

// The point of queue `q` read at `now` (Unix ms), its rates from the totals' differences since
// `prev` over the real time between the two reads. Rates are 0 for the first sample (no prev), when
// no time passed, and when any total went down (the queue was forgotten and made again: its
// counts restarted), never negative. eta_last_s and streams are left to the caller (-1, 0).
Point next_point(const QueueInfo& q, const std::optional<Totals>& prev, Millis now);

// A Point in 36 bytes. Counts saturate at ±2^31 (a line of two billion is not a concern);
// rates are kept in hundredths of a per-second (exact to what the frame shows).
struct PackedPoint {
  uint32_t t = 0;  // Unix seconds (good until 2106)
  int32_t waiting = 0;
  int32_t active = 0;
  int32_t admitted_c = 0;  // admitted_per_s × 100
  int32_t joins_c = 0;
  int32_t abandoned_c = 0;
  int32_t oldest_wait_s = 0;
  int32_t eta_last_s = -1;
  int32_t streams = 0;

  static PackedPoint pack(const Point& p);
  Point unpack() const;
};
static_assert(sizeof(PackedPoint) <= 40, "the history's memory budget is 40 bytes a point");

// The last `capacity` points of one queue, oldest first. Fixed memory once full: the newest
// point overwrites the oldest.
class Ring {
 public:
  explicit Ring(size_t capacity) : cap_(capacity ? capacity : 1) {}
  void push(const Point& p);
  size_t size() const { return buf_.size(); }
  size_t capacity() const { return cap_; }
  // The i-th point, oldest first (i < size()).
  Point at(size_t i) const { return buf_[(head_ + i) % buf_.size()].unpack(); }
  const PackedPoint& packed_at(size_t i) const { return buf_[(head_ + i) % buf_.size()]; }
  // Bytes held (the points' storage).
  size_t bytes() const { return buf_.capacity() * sizeof(PackedPoint); }

 private:
  size_t cap_;
  size_t head_ = 0;  // index of the oldest point once full
  std::vector<PackedPoint> buf_;
};

// The seconds until the last of `cur.waiting` is admitted at the admitted rate averaged over
// the points of the last 10 s (those of `ring` with t > cur.t − 10, and `cur` itself, which is
// not yet in the ring): 0 when nobody waits, -1 when nobody was admitted in that window.
int64_t eta_last_s(const Ring& ring, const Point& cur);

// A point's fields, in the documented order, into an open JSON object: "t", "waiting", "active",
// "admitted_per_s", "joins_per_s", "abandoned_per_s", "oldest_wait_s", "eta_last_s", "streams"
// (a history point is an object of these alone; the overview flattens them into a queue's row,
// after its own).
void point_fields(views::JsonWriter& w, const Point& p);

}  // namespace anteroom::dashboard
