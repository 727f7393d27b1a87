#include "dashboard/series.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "views/json_writer.hpp"

namespace anteroom::dashboard {

double two_decimals(double v) { return std::round(v * 100) / 100; }

Point next_point(const QueueInfo& q, const std::optional<Totals>& prev, Millis now) {
  Point p;
  p.t = now / 1000;
  p.waiting = q.stats.waiting;
  p.active = q.stats.active;
  p.oldest_wait_s =
      q.stats.oldest_joined_ms ? std::max<Millis>(0, now - q.stats.oldest_joined_ms) / 1000 : 0;
  if (!prev) return p;
  const Totals cur = Totals::of(q, now);
  const Millis dt = cur.at_ms - prev->at_ms;
  // A total that went down means a new queue of the same name: its counts restarted, and a
  // difference across the two would be meaningless (negative, or too small).
  if (dt <= 0 || cur.joined < prev->joined || cur.admitted < prev->admitted ||
      cur.abandoned < prev->abandoned)
    return p;
  const double s = static_cast<double>(dt) / 1000.0;
  p.admitted_per_s = two_decimals(static_cast<double>(cur.admitted - prev->admitted) / s);
  p.joins_per_s = two_decimals(static_cast<double>(cur.joined - prev->joined) / s);
  p.abandoned_per_s = two_decimals(static_cast<double>(cur.abandoned - prev->abandoned) / s);
  return p;
}

namespace {

int32_t sat32(int64_t v) {
  return static_cast<int32_t>(std::clamp<int64_t>(v, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
}
int32_t centi(double rate) {
  double c = std::round(rate * 100);
  if (!std::isfinite(c)) return 0;
  return sat32(static_cast<int64_t>(std::clamp(c, -2147483648.0, 2147483647.0)));
}

}  // namespace

PackedPoint PackedPoint::pack(const Point& p) {
  PackedPoint o;
  o.t = static_cast<uint32_t>(std::clamp<int64_t>(p.t, 0, std::numeric_limits<uint32_t>::max()));
  o.waiting = sat32(p.waiting);
  o.active = sat32(p.active);
  o.admitted_c = centi(p.admitted_per_s);
  o.joins_c = centi(p.joins_per_s);
  o.abandoned_c = centi(p.abandoned_per_s);
  o.oldest_wait_s = sat32(p.oldest_wait_s);
  o.eta_last_s = sat32(p.eta_last_s);
  o.streams = sat32(p.streams);
  return o;
}

Point PackedPoint::unpack() const {
  Point p;
  p.t = t;
  p.waiting = waiting;
  p.active = active;
  p.admitted_per_s = admitted_c / 100.0;
  p.joins_per_s = joins_c / 100.0;
  p.abandoned_per_s = abandoned_c / 100.0;
  p.oldest_wait_s = oldest_wait_s;
  p.eta_last_s = eta_last_s;
  p.streams = streams;
  return p;
}

void Ring::push(const Point& p) {
  if (buf_.size() < cap_) {
    // Grown in steps like any vector, but never past the capacity: a queue seen for a minute
    // holds a minute of points.
    if (buf_.size() == buf_.capacity())
      buf_.reserve(std::min(cap_, std::max<size_t>(16, 2 * buf_.size())));
    buf_.push_back(PackedPoint::pack(p));
    return;
  }
  buf_[head_] = PackedPoint::pack(p);
  head_ = (head_ + 1) % cap_;
}

int64_t eta_last_s(const Ring& ring, const Point& cur) {
  if (cur.waiting <= 0) return 0;
  // Hundredths summed as integers: the mean is exact to what the points hold.
  int64_t sum_c = std::llround(cur.admitted_per_s * 100);
  int64_t n = 1;
  for (size_t i = ring.size(); i-- > 0;) {
    const PackedPoint& p = ring.packed_at(i);
    if (static_cast<int64_t>(p.t) <= cur.t - 10) break;
    sum_c += p.admitted_c;
    ++n;
  }
  if (sum_c <= 0) return -1;
  // waiting ÷ (sum_c / 100 / n), rounded up: the last in line is not in before that.
  const double eta = std::ceil(static_cast<double>(cur.waiting) * 100.0 * static_cast<double>(n) /
                               static_cast<double>(sum_c));
  return static_cast<int64_t>(std::min(eta, 1e12));
}

void point_fields(views::JsonWriter& w, const Point& p) {
  w.num("t", p.t);
  w.num("waiting", p.waiting);
  w.num("active", p.active);
  w.real("admitted_per_s", p.admitted_per_s);
  w.real("joins_per_s", p.joins_per_s);
  w.real("abandoned_per_s", p.abandoned_per_s);
  w.num("oldest_wait_s", p.oldest_wait_s);
  w.num("eta_last_s", p.eta_last_s);
  w.num("streams", p.streams);
}

}  // namespace anteroom::dashboard
