#include "pow/meter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace anteroom::pow {

namespace {

constexpr unsigned char kV4 = 4, kV6 = 6, kOverflow = 0xfe, kText = 0xff;
constexpr int kV4Prefix = 24;  // bits of an IPv4 network
constexpr int kV6Prefix = 56;  // bits of an IPv6 network (one site, RFC 6177)

// Parses `ip` (no allocation): family kV4 / kV6 and the address bytes, masked to the network's
// prefix; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it carries.
// kText if it is not an address.
unsigned char parse(std::string_view ip, unsigned char out[16]) {
  char buf[64];
  if (ip.empty() || ip.size() >= sizeof buf) return kText;
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';
  std::memset(out, 0, 16);
  if (inet_pton(AF_INET, buf, out) == 1) {
    out[3] = 0;  // /24
    return kV4;
  }
  unsigned char a6[16];
  if (inet_pton(AF_INET6, buf, a6) != 1) return kText;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a6, kMapped, 12) == 0) {
    std::memcpy(out, a6 + 12, 3);  // /24 of the carried IPv4 address
    return kV4;
  }
  std::memcpy(out, a6, kV6Prefix / 8);  // /56: the first 7 bytes
  return kV6;
}

}  // namespace

std::string network_of(std::string_view ip) {
  unsigned char a[16];
  switch (parse(ip, a)) {
    case kV4: {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, a, text, sizeof text);
      return std::string(text) + "/" + std::to_string(kV4Prefix);
    }
    case kV6: {
      char text[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, a, text, sizeof text);
      return std::string(text) + "/" + std::to_string(kV6Prefix);
    }
    default:
      return std::string(ip);
  }
}

int extra_bits_for(double count, double limit) {
  if (limit <= 0 || !(count > limit)) return 0;
  double doublings = std::floor(std::log2(count / limit));
  return static_cast<int>(std::min(64.0, 1 + doublings));
}

// ---- Window ------------------------------------------------------------------------------------

void Meter::Window::add(Millis now, Millis window_len) {
  Millis aligned = now - now % window_len;
  if (window_len != len) {
    // A new window length (the operator changed window_s): what was counted stays, as the
    // previous window's count, so a change of config does not hand anyone a clean slate.
    prev = cur + prev;
    cur = 0;
    len = window_len;
    start = aligned;
  } else if (aligned >= start + 2 * len) {
    prev = cur = 0;
    start = aligned;
  } else if (aligned >= start + len) {
    prev = cur;
    cur = 0;
    start = aligned;
  }
  cur += 1;
}

double Meter::Window::estimate(Millis now, Millis window_len) const {
  if (len == 0) return 0;
  if (window_len != len) return cur + prev;  // (as add() would keep it)
  Millis aligned = now - now % len;
  double c = cur, p = prev;
  if (aligned >= start + 2 * len) {
    c = p = 0;
  } else if (aligned >= start + len) {
    p = c;
    c = 0;
  }
  // The part of the previous fixed window that still lies in the sliding window (now - len, now].
  double overlap = 1.0 - static_cast<double>(std::max<Millis>(0, now - aligned)) / len;
  return c + p * std::clamp(overlap, 0.0, 1.0);
}

// ---- Meter -------------------------------------------------------------------------------------

size_t Meter::NetKeyHash::operator()(const NetKey& k) const {
  // FNV-1a over the 17 bytes: the keys are short and fixed-size.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char b : k) h = (h ^ b) * 1099511628211ull;
  return static_cast<size_t>(h);
}

Meter::NetKey Meter::key_of(std::string_view ip) {
  NetKey k{};
  unsigned char a[16];
  unsigned char fam = parse(ip, a);
  k[0] = fam;
  if (fam == kText) {
    uint64_t h = std::hash<std::string_view>{}(ip);
    std::memcpy(k.data() + 1, &h, sizeof h);
  } else {
    std::memcpy(k.data() + 1, a, 16);
  }
  return k;
}

Meter::QueueMeter& Meter::queue(std::string_view q) {
  auto it = queues_.find(q);
  if (it == queues_.end()) it = queues_.emplace(std::string(q), QueueMeter{}).first;
  return it->second;
}

Meter::Window& Meter::net_window(QueueMeter& qm, std::string_view ip, Millis now) {
  NetKey k = key_of(ip);
  auto it = qm.nets.find(k);
  if (it != qm.nets.end()) return it->second;
  if (networks_ >= kMaxNetworks && now - last_sweep_ >= kSweepEveryMs) sweep(now, &qm);
  if (networks_ >= kMaxNetworks) {
    // Full of live networks: the newcomers share one entry (and so its count) per queue.
    NetKey over{};
    over[0] = kOverflow;
    it = qm.nets.find(over);
    if (it != qm.nets.end()) return it->second;
    k = over;
  }
  ++networks_;
  return qm.nets.emplace(k, Window{}).first->second;
}

void Meter::sweep(Millis now, const QueueMeter* keep) {
  last_sweep_ = now;
  ++sweeps_;
  for (auto qit = queues_.begin(); qit != queues_.end();) {
    auto& nets = qit->second.nets;
    for (auto it = nets.begin(); it != nets.end();) {
      if (it->second.idle(now)) {
        it = nets.erase(it);
        --networks_;
      } else {
        ++it;
      }
    }
    if (nets.empty() && qit->second.joins.idle(now) && &qit->second != keep) {
      qit = queues_.erase(qit);
    } else {
      ++qit;
    }
  }
}

void Meter::challenge(std::string_view q, std::string_view ip, const PowConfig& c, Millis now) {
  if (c.bits <= 0 || !c.adaptive) return;
  Millis len = std::max<int64_t>(1, c.window_s) * 1000;
  QueueMeter& qm = queue(q);
  net_window(qm, ip, now).add(now, len);
}

void Meter::join(std::string_view q, std::string_view ip, const PowConfig& c, Millis now) {
  if (c.bits <= 0 || !c.adaptive) return;
  Millis len = std::max<int64_t>(1, c.window_s) * 1000;
  QueueMeter& qm = queue(q);
  net_window(qm, ip, now).add(now, len);
  qm.joins.add(now, len);
}

int Meter::extra_bits(std::string_view q, std::string_view ip, const PowConfig& c,
                      Millis now) const {
  if (c.bits <= 0 || !c.adaptive) return 0;
  auto qit = queues_.find(q);
  if (qit == queues_.end()) return 0;
  const QueueMeter& qm = qit->second;
  Millis len = std::max<int64_t>(1, c.window_s) * 1000;
  int extra = 0;
  auto it = qm.nets.find(key_of(ip));
  if (it == qm.nets.end() && networks_ >= kMaxNetworks) {
    NetKey over{};
    over[0] = kOverflow;
    it = qm.nets.find(over);
  }
  if (it != qm.nets.end())
    extra += extra_bits_for(it->second.estimate(now, len), static_cast<double>(c.network_share));
  if (c.surge_per_s > 0) {
    double per_s = qm.joins.estimate(now, len) / static_cast<double>(c.window_s);
    extra += extra_bits_for(per_s, static_cast<double>(c.surge_per_s));
  }
  return std::min(extra, 64);
}

}  // namespace anteroom::pow
