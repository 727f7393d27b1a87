#include "http/limits.hpp"

#include <algorithm>

namespace anteroom::http {

bool ConnectionLimiter::acquire(const std::string& ip) {
  if (max_total_ > 0 && total_ >= max_total_) return false;
  auto& n = per_ip_[ip];
  if (max_ip_ > 0 && n >= max_ip_) {
    if (n == 0) per_ip_.erase(ip);
    return false;
  }
  ++n;
  ++total_;
  return true;
}

void ConnectionLimiter::release(const std::string& ip) {
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;
  --total_;
  if (--it->second <= 0) per_ip_.erase(it);
}

bool RateLimiter::allow(const std::string& ip, int64_t now) {
  if (rate_ <= 0) return true;
  if (buckets_.size() >= kMaxEntries) {
    // Forget buckets that have refilled completely: they carry no information.
    std::erase_if(buckets_, [&](const auto& kv) {
      return kv.second.tokens + (now - kv.second.last_ms) * rate_ / 1000.0 >= burst_;
    });
    if (buckets_.size() >= kMaxEntries) buckets_.clear();
  }
  auto [it, fresh] = buckets_.try_emplace(ip, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::max<int64_t>(0, now - b.last_ms) * rate_ / 1000.0);
  b.last_ms = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

}  // namespace anteroom::http
