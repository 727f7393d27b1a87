#include "http/limits.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>

namespace anteroom::http {

namespace ip = boost::asio::ip;

ip::address unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

ip::address masked(const ip::address& a, unsigned prefix) {
  if (a.is_v4()) {
    uint32_t bits = a.to_v4().to_uint();
    uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - std::min(prefix, 32u));
    return ip::address_v4(bits & mask);
  }
  auto bytes = a.to_v6().to_bytes();
  for (unsigned i = 0; i < bytes.size(); ++i) {
    unsigned keep = prefix > i * 8 ? std::min(8u, prefix - i * 8) : 0;
    bytes[i] &= static_cast<unsigned char>(keep == 0 ? 0 : 0xFF << (8 - keep));
  }
  return ip::address_v6(bytes);
}

std::string address_key(std::string_view text, int v6_prefix_len) {
  boost::system::error_code ec;
  ip::address a = ip::make_address(std::string(text), ec);
  if (ec) return std::string(text);
  // The same client whether a dual-stack socket shows it as ::ffff:1.2.3.4 or 1.2.3.4.
  a = unmapped(a);
  if (a.is_v4()) return a.to_string();
  unsigned prefix = static_cast<unsigned>(std::clamp(v6_prefix_len, 0, 128));
  return masked(a, prefix).to_string() + "/" + std::to_string(prefix);
}

bool ConnectionLimiter::acquire(const std::string& ip, bool per_address) {
  if (max_total_ > 0 && total_ >= max_total_) return false;
  if (!per_address) {
    ++total_;
    return true;
  }
  std::string key = address_key(ip, v6_prefix_);
  auto& n = per_ip_[key];
  if (max_ip_ > 0 && n >= max_ip_) {
    if (n == 0) per_ip_.erase(key);
    return false;
  }
  ++n;
  ++total_;
  return true;
}

void ConnectionLimiter::release(const std::string& ip, bool per_address) {
  if (!per_address) {
    if (total_ > 0) --total_;
    return;
  }
  auto it = per_ip_.find(address_key(ip, v6_prefix_));
  if (it == per_ip_.end()) return;
  --total_;
  if (--it->second <= 0) per_ip_.erase(it);
}

bool ConnectionLimiter::acquire_stream() {
  if (max_streams_ > 0 && streams_ >= max_streams_) return false;
  ++streams_;
  return true;
}

void ConnectionLimiter::release_stream() {
  if (streams_ > 0) --streams_;
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
  auto [it, fresh] = buckets_.try_emplace(address_key(ip, v6_prefix_), Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::max<int64_t>(0, now - b.last_ms) * rate_ / 1000.0);
  b.last_ms = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

}  // namespace anteroom::http
