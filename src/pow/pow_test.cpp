// The proof of work's pure parts: the challenge format and its check (against OpenSSL's own
// HMAC and SHA-256, so the format is what docs/pow.md says), and the meter's window, formula and
// bounds.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <string>
#include <vector>

#include "core/encoding.hpp"
#include "pow/challenge.hpp"
#include "pow/meter.hpp"

namespace anteroom::pow {
namespace {

constexpr Millis kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

std::string OpensslHmac(std::string_view key, std::string_view msg) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

int ZeroBits(std::string_view challenge, std::string_view nonce) {
  std::string in = std::string(challenge) + ":" + std::string(nonce);
  unsigned char d[32];
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d);
  return leading_zero_bits(d);
}

// The first decimal nonce whose hash has at least `bits` zero bits (want_short: fewer).
std::string Solve(std::string_view challenge, int bits, bool want_short = false) {
  for (long n = 0;; ++n) {
    std::string nonce = std::to_string(n);
    int z = ZeroBits(challenge, nonce);
    if (want_short ? z < bits : z >= bits) return nonce;
  }
}

std::vector<std::string> Fields(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  for (size_t j; (j = s.find('.', i)) != std::string::npos; i = j + 1) out.push_back(s.substr(i, j - i));
  out.push_back(s.substr(i));
  return out;
}

const std::string kKey = derive_key("test-secret");

TEST(PowKey, IsTheHmacOfTheSecretWithTheDocumentedLabel) {
  EXPECT_EQ(kKey, OpensslHmac("test-secret", "anteroom-pow-key-v1"));
  EXPECT_EQ(kKey.size(), 32u);
  // A secret longer than SHA-256's block is hashed first (RFC 2104), as OpenSSL does.
  std::string long_secret(200, 'x');
  EXPECT_EQ(derive_key(long_secret), OpensslHmac(long_secret, "anteroom-pow-key-v1"));
  EXPECT_NE(derive_key("other"), kKey);
}

TEST(PowChallenge, HasTheDocumentedFormat) {
  Challenge c = mint(kKey, "sale", 18, kNow + 120'000);
  auto f = Fields(c.text);
  ASSERT_EQ(f.size(), 6u) << c.text;
  EXPECT_EQ(f[0], "pow1");
  EXPECT_EQ(f[1], "sale");
  EXPECT_EQ(f[2], "18");
  EXPECT_EQ(f[3], std::to_string(kNow + 120'000));
  EXPECT_EQ(f[4], c.id);
  EXPECT_EQ(c.id.size(), 22u);
  std::string signed_part = c.text.substr(0, c.text.size() - 23);
  EXPECT_EQ(f[5], base64url_encode(OpensslHmac(kKey, signed_part).substr(0, 16)));
  EXPECT_EQ(c.queue, "sale");
  EXPECT_EQ(c.bits, 18);
  EXPECT_EQ(c.expires_ms, kNow + 120'000);
  EXPECT_NE(mint(kKey, "sale", 18, kNow).id, mint(kKey, "sale", 18, kNow).id);
}

TEST(PowChallenge, JsonIsWhatClientsAreHanded) {
  Challenge c = mint(kKey, "q", 3, 1000);
  EXPECT_EQ(challenge_json(c), "{\"challenge\":\"" + c.text +
                                   "\",\"bits\":3,\"expires_ms\":1000,\"algorithm\":\"sha256-"
                                   "leading-zero-bits\",\"input\":\"challenge:nonce\"}");
}

TEST(PowCheck, AcceptsASolvedChallenge) {
  Challenge c = mint(kKey, "sale", 10, kNow + 60'000);
  std::string nonce = Solve(c.text, 10);
  PowProof p = check(kKey, "sale", c.text, nonce, kNow);
  EXPECT_EQ(p.verdict, PowVerdict::valid);
  EXPECT_EQ(p.bits, 10);
  EXPECT_EQ(p.id, c.id);
  EXPECT_EQ(p.expires_ms, kNow + 60'000);
  EXPECT_EQ(p.extra_bits, 0);
  // Bits 0: any well-formed nonce.
  Challenge z = mint(kKey, "sale", 0, kNow + 60'000);
  EXPECT_EQ(check(kKey, "sale", z.text, "x", kNow).verdict, PowVerdict::valid);
}

TEST(PowCheck, ShortHashIsInsufficient) {
  Challenge c = mint(kKey, "sale", 12, kNow + 60'000);
  PowProof p = check(kKey, "sale", c.text, Solve(c.text, 12, /*want_short=*/true), kNow);
  EXPECT_EQ(p.verdict, PowVerdict::insufficient);
  EXPECT_TRUE(p.id.empty());  // nothing to mark used
}

TEST(PowCheck, ExpiresAtItsTimeThroughNow) {
  Challenge c = mint(kKey, "sale", 4, kNow + 60'000);
  std::string nonce = Solve(c.text, 4);
  EXPECT_EQ(check(kKey, "sale", c.text, nonce, kNow + 59'999).verdict, PowVerdict::valid);
  EXPECT_EQ(check(kKey, "sale", c.text, nonce, kNow + 60'000).verdict, PowVerdict::expired);
  EXPECT_EQ(check(kKey, "sale", c.text, nonce, kNow + 3'600'000).verdict, PowVerdict::expired);
}

TEST(PowCheck, OtherQueueIsWrongQueue) {
  Challenge c = mint(kKey, "sale", 4, kNow + 60'000);
  EXPECT_EQ(check(kKey, "other", c.text, Solve(c.text, 4), kNow).verdict,
            PowVerdict::wrong_queue);
}

TEST(PowCheck, ForgeriesAreInvalid) {
  Challenge c = mint(kKey, "sale", 20, kNow + 60'000);
  auto verdict = [&](const std::string& text) {
    return check(kKey, "sale", text, "1", kNow).verdict;
  };
  // A changed mac.
  std::string t = c.text;
  t.back() = t.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(verdict(t), PowVerdict::invalid);
  // A changed bits field (cheaper work), mac kept.
  t = c.text;
  t.replace(t.find(".20."), 4, ".2.");
  EXPECT_EQ(verdict(t), PowVerdict::invalid);
  // A later expiry, an other queue, mac kept: the mac covers them.
  t = c.text;
  t.replace(t.find(".sale."), 6, ".other.");
  EXPECT_EQ(check(kKey, "other", t, "1", kNow).verdict, PowVerdict::invalid);
  // Signed with another key.
  Challenge theirs = mint(derive_key("not-ours"), "sale", 1, kNow + 60'000);
  EXPECT_EQ(check(kKey, "sale", theirs.text, Solve(theirs.text, 1), kNow).verdict,
            PowVerdict::invalid);
  // Shapes.
  for (std::string bad : {std::string(), std::string("pow1"), std::string(300, 'a'),
                          std::string("pow1.sale.20.1.id"), c.text + ".", "." + c.text,
                          c.text.substr(0, c.text.size() - 1)})
    EXPECT_EQ(verdict(bad), PowVerdict::invalid) << bad;
  // Signed by us but not our shape (a key that signs anything must still not be parsed loosely).
  for (std::string body : {"pow2.sale.1." + std::to_string(kNow + 60'000) + "." + c.id,
                           "pow1.sale.01." + std::to_string(kNow + 60'000) + "." + c.id,
                           "pow1.sale.33." + std::to_string(kNow + 60'000) + "." + c.id,
                           "pow1.sale.1." + std::to_string(kNow + 60'000) + ".short",
                           "pow1.sale.1." + std::to_string(kNow + 60'000)}) {
    std::string mac = base64url_encode(OpensslHmac(kKey, body).substr(0, 16));
    EXPECT_EQ(verdict(body + "." + mac), PowVerdict::invalid) << body;
  }
}

TEST(PowCheck, NonceRules) {
  Challenge c = mint(kKey, "sale", 0, kNow + 60'000);
  auto verdict = [&](const std::string& nonce) {
    return check(kKey, "sale", c.text, nonce, kNow).verdict;
  };
  EXPECT_EQ(verdict("aZ09-_"), PowVerdict::valid);
  EXPECT_EQ(verdict(std::string(32, '7')), PowVerdict::valid);
  EXPECT_EQ(verdict(""), PowVerdict::invalid);
  EXPECT_EQ(verdict(std::string(33, '7')), PowVerdict::invalid);
  for (std::string bad : {"1.2", "a b", "x:y", "é", "+", "/", "="})
    EXPECT_EQ(verdict(bad), PowVerdict::invalid) << bad;
}

TEST(PowCheck, LeadingZeroBits) {
  unsigned char d[32] = {};
  EXPECT_EQ(leading_zero_bits(d), 256);
  d[0] = 0x80;
  EXPECT_EQ(leading_zero_bits(d), 0);
  d[0] = 0x01;
  EXPECT_EQ(leading_zero_bits(d), 7);
  d[0] = 0;
  d[1] = 0x10;
  EXPECT_EQ(leading_zero_bits(d), 11);
  d[1] = 0;
  d[31] = 1;
  EXPECT_EQ(leading_zero_bits(d), 255);
}

// ---- Meter --------------------------------------------------------------------------------------

TEST(PowMeter, NetworkOf) {
  EXPECT_EQ(network_of("203.0.113.77"), "203.0.113.0/24");
  EXPECT_EQ(network_of("::ffff:10.1.2.3"), "10.1.2.0/24");
  EXPECT_EQ(network_of("2001:db8:1:2ff:1::1"), "2001:db8:1:200::/56");
  EXPECT_EQ(network_of("2001:db8:1:2ff::/64"), "2001:db8:1:2ff::/64");  // not an address: itself
  EXPECT_EQ(network_of("junk"), "junk");
}

TEST(PowMeter, ExtraBitsFormula) {
  EXPECT_EQ(extra_bits_for(0, 30), 0);
  EXPECT_EQ(extra_bits_for(30, 30), 0);
  EXPECT_EQ(extra_bits_for(31, 30), 1);
  EXPECT_EQ(extra_bits_for(59.9, 30), 1);
  EXPECT_EQ(extra_bits_for(60, 30), 2);
  EXPECT_EQ(extra_bits_for(119, 30), 2);
  EXPECT_EQ(extra_bits_for(120, 30), 3);
  EXPECT_EQ(extra_bits_for(30 * 1024, 30), 11);
  EXPECT_EQ(extra_bits_for(1e300, 1), 64);
  EXPECT_EQ(extra_bits_for(100, 0), 0);  // no limit, no rule
}

PowConfig Adaptive(int64_t share, int64_t window_s, int64_t surge = 0) {
  PowConfig c;
  c.bits = 10;
  c.network_share = share;
  c.window_s = window_s;
  c.surge_per_s = surge;
  return c;
}

TEST(PowMeter, BusyNetworkRisesAndFallsBackOthersStay) {
  Meter m;
  PowConfig c = Adaptive(4, 10);
  Millis t = kNow;  // the start of a window (kNow is a multiple of 10 s)
  for (int i = 0; i < 4; ++i) m.challenge("q", "10.1.1.7", c, t);
  EXPECT_EQ(m.extra_bits("q", "10.1.1.200", c, t), 0);  // 4 <= 4
  m.join("q", "10.1.1.8", c, t);                        // same /24: 5
  EXPECT_EQ(m.extra_bits("q", "10.1.1.9", c, t), 1);
  for (int i = 0; i < 11; ++i) m.challenge("q", "10.1.1.7", c, t);  // 16
  EXPECT_EQ(m.extra_bits("q", "10.1.1.7", c, t), 3);
  EXPECT_EQ(m.extra_bits("q", "10.2.2.7", c, t), 0);  // another network
  EXPECT_EQ(m.extra_bits("other", "10.1.1.7", c, t), 0);  // another queue
  // Half-way through the next window, half the previous one still counts: 8 → 2 bits.
  EXPECT_EQ(m.extra_bits("q", "10.1.1.7", c, t + 15'000), 2);
  // Two windows on: nothing.
  EXPECT_EQ(m.extra_bits("q", "10.1.1.7", c, t + 20'000), 0);
}

TEST(PowMeter, OnlyAdaptiveQueuesWithPowOnAreCounted) {
  Meter m;
  PowConfig c = Adaptive(1, 60);
  c.adaptive = false;
  for (int i = 0; i < 10; ++i) m.join("q", "10.0.0.1", c, kNow);
  EXPECT_EQ(m.extra_bits("q", "10.0.0.1", c, kNow), 0);
  EXPECT_EQ(m.networks(), 0u);
  PowConfig off = Adaptive(1, 60);
  off.bits = 0;
  for (int i = 0; i < 10; ++i) m.challenge("q", "10.0.0.1", off, kNow);
  EXPECT_EQ(m.networks(), 0u);
}

TEST(PowMeter, SurgeAddsBitsForEveryone) {
  Meter m;
  PowConfig c = Adaptive(1'000'000, 10, /*surge=*/2);  // 2 joins/s: 20 per 10 s window
  for (int i = 0; i < 20; ++i) m.join("q", "10.0.0." + std::to_string(i), c, kNow);
  EXPECT_EQ(m.extra_bits("q", "192.0.2.1", c, kNow), 0);  // 2/s: at the level
  for (int i = 0; i < 20; ++i) m.join("q", "10.0.1." + std::to_string(i), c, kNow);
  EXPECT_EQ(m.extra_bits("q", "192.0.2.1", c, kNow), 2);  // 4/s: one doubling
  c.surge_per_s = 0;
  EXPECT_EQ(m.extra_bits("q", "192.0.2.1", c, kNow), 0);
}

TEST(PowMeter, MemoryIsBoundedAndIdleNetworksAreSwept) {
  Meter m;
  PowConfig c = Adaptive(2, 1);
  auto ip = [](size_t i) {  // distinct /24s
    return std::to_string(10 + i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
           std::to_string(i % 256) + ".1";
  };
  for (size_t i = 0; i < Meter::kMaxNetworks; ++i) m.challenge("q", ip(i), c, kNow);
  EXPECT_EQ(m.networks(), Meter::kMaxNetworks);
  EXPECT_EQ(m.sweeps(), 0);
  // Full of live networks: newcomers share the overflow entry, which pays for all of them.
  for (size_t i = 0; i < 3; ++i) m.challenge("q", ip(Meter::kMaxNetworks + i), c, kNow + 10);
  EXPECT_EQ(m.networks(), Meter::kMaxNetworks + 1);
  EXPECT_EQ(m.extra_bits("q", ip(Meter::kMaxNetworks + 7), c, kNow + 10), 1);  // 3 > 2
  // One sweep for all of that (nothing was idle), not one per newcomer.
  EXPECT_EQ(m.sweeps(), 1);
  for (size_t i = 0; i < 1000; ++i) m.challenge("q", ip(Meter::kMaxNetworks + i), c, kNow + 20);
  EXPECT_EQ(m.sweeps(), 1);
  // Two windows later, the next newcomer's sweep drops every idle network.
  m.challenge("q", "192.0.2.1", c, kNow + 2'000);
  EXPECT_EQ(m.sweeps(), 2);
  EXPECT_EQ(m.networks(), 1u);
  EXPECT_EQ(m.extra_bits("q", ip(0), c, kNow + 2'000), 0);
}

}  // namespace
}  // namespace anteroom::pow
