#pragma once
// Per-client limits: open connections per IP and a join-rate token bucket per IP. Both maps are
// bounded: idle entries are dropped, so a flood of distinct addresses costs bounded memory.
//
// Not thread-safe: used on the server's io_context thread.
#include <cstdint>
#include <string>
#include <unordered_map>

namespace anteroom::http {

class ConnectionLimiter {
 public:
  ConnectionLimiter(int64_t max_total, int64_t max_per_ip) : max_total_(max_total), max_ip_(max_per_ip) {}
  // True (and counted) if one more connection from `ip` is allowed.
  bool acquire(const std::string& ip);
  void release(const std::string& ip);
  int64_t total() const { return total_; }

 private:
  int64_t max_total_, max_ip_;
  int64_t total_ = 0;
  std::unordered_map<std::string, int64_t> per_ip_;
};

class RateLimiter {
 public:
  // rate 0 disables the limit.
  RateLimiter(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}
  bool allow(const std::string& ip, int64_t now_ms);
  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    int64_t last_ms;
  };
  double rate_, burst_;
  std::unordered_map<std::string, Bucket> buckets_;
  static constexpr size_t kMaxEntries = 100'000;
};

}  // namespace anteroom::http
