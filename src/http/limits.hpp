#pragma once
// Per-client limits: open connections per client address (and event streams among them) and a
// join-rate token bucket per client address. Both maps are bounded: idle entries are dropped, so
// a flood of distinct addresses costs bounded memory.
//
// A client address is counted by its key (address_key): an IPv4 address as it is, an IPv6
// address by its prefix (one /64 is one household or one server, not 2^64 clients).
//
// Not thread-safe: used on the server's io_context thread.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace anteroom::http {

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is: one client behind a
// dual-stack socket, one key. Other addresses unchanged.
boost::asio::ip::address unmapped(const boost::asio::ip::address& a);
// `a` with the bits past `prefix` cleared (prefix ≤ 32 for IPv4, ≤ 128 for IPv6; the scope id
// of an IPv6 address is dropped).
boost::asio::ip::address masked(const boost::asio::ip::address& a, unsigned prefix);

// What the per-address limits count `ip` as: an IPv4 address (or an IPv4-mapped IPv6 address,
// ::ffff:a.b.c.d) as its dotted quad; an IPv6 address as its first `v6_prefix_len` bits
// ("2001:db8:1:2::/64"); anything that does not parse as an address (a proxy header's text) as
// it is. v6_prefix_len is 0..128 (the settings allow 32..128).
std::string address_key(std::string_view ip, int v6_prefix_len);

class ConnectionLimiter {
 public:
  // max_total / max_per_ip: 0 = no limit. max_streams: how many of the connections may be event
  // streams (the rest is the reserve for ordinary requests and probes); 0 = no limit.
  ConnectionLimiter(int64_t max_total, int64_t max_per_ip, int64_t max_streams = 0,
                    int v6_prefix_len = 64)
      : max_total_(max_total),
        max_ip_(max_per_ip),
        max_streams_(max_streams),
        v6_prefix_(v6_prefix_len) {}
  // True (and counted) if one more connection from `ip` is allowed. per_address false: counted
  // in the total only (a trusted proxy's connection carries many clients); release the same way.
  bool acquire(const std::string& ip, bool per_address = true);
  void release(const std::string& ip, bool per_address = true);
  // True (and counted) if one more connection may become an event stream. The connection itself
  // stays counted by acquire() as well: a stream counts in both caps.
  bool acquire_stream();
  void release_stream();
  int64_t total() const { return total_; }
  int64_t streams() const { return streams_; }

 private:
  int64_t max_total_, max_ip_, max_streams_;
  int v6_prefix_;
  int64_t total_ = 0;
  int64_t streams_ = 0;
  std::unordered_map<std::string, int64_t> per_ip_;  // by address_key
};

class RateLimiter {
 public:
  // rate 0 disables the limit.
  RateLimiter(double rate_per_s, double burst, int v6_prefix_len = 64)
      : rate_(rate_per_s), burst_(burst), v6_prefix_(v6_prefix_len) {}
  bool allow(const std::string& ip, int64_t now_ms);
  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    int64_t last_ms;
  };
  double rate_, burst_;
  int v6_prefix_;
  std::unordered_map<std::string, Bucket> buckets_;  // by address_key
  static constexpr size_t kMaxEntries = 100'000;
};

}  // namespace anteroom::http
