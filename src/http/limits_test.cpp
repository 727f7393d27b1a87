#include "http/limits.hpp"

#include <gtest/gtest.h>

namespace anteroom::http {
namespace {

TEST(ConnectionLimiter, CountsPerIpAndTotal) {
  ConnectionLimiter c(3, 2);
  EXPECT_TRUE(c.acquire("a"));
  EXPECT_TRUE(c.acquire("a"));
  EXPECT_FALSE(c.acquire("a"));
  EXPECT_TRUE(c.acquire("b"));
  EXPECT_FALSE(c.acquire("c"));  // total reached
  c.release("a");
  EXPECT_TRUE(c.acquire("c"));
  EXPECT_EQ(c.total(), 3);
}

TEST(AddressKey, Ipv4AsItIs) {
  EXPECT_EQ(address_key("192.0.2.7", 64), "192.0.2.7");
  EXPECT_EQ(address_key("127.0.0.2", 128), "127.0.0.2");
}

TEST(AddressKey, Ipv4MappedIpv6IsItsIpv4Address) {
  EXPECT_EQ(address_key("::ffff:192.0.2.7", 64), "192.0.2.7");
  EXPECT_EQ(address_key("::ffff:c000:207", 48), "192.0.2.7");
}

TEST(AddressKey, Ipv6ByPrefix) {
  // One /64: every interface id in it is the same client.
  EXPECT_EQ(address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("2001:db8:1:2::1", 64), "2001:db8:1:2::/64");
  EXPECT_NE(address_key("2001:db8:1:3::1", 64), address_key("2001:db8:1:2::1", 64));
  // Other lengths, on and off a byte boundary.
  EXPECT_EQ(address_key("2001:db8:1:2::1", 32), "2001:db8::/32");
  EXPECT_EQ(address_key("2001:db8:1:2::1", 48), "2001:db8:1::/48");
  EXPECT_EQ(address_key("2001:db8:1:2:ffff::1", 68), "2001:db8:1:2:f000::/68");
  EXPECT_EQ(address_key("2001:db8:1:2:ffff::1", 57), "2001:db8:1::/57");
  EXPECT_EQ(address_key("2001:db8:1:82::1", 57), "2001:db8:1:80::/57");
  EXPECT_EQ(address_key("2001:db8::1", 128), "2001:db8::1/128");
  // The same address however it is spelled.
  EXPECT_EQ(address_key("2001:0DB8:0001:0002:0:0:0:1", 64), "2001:db8:1:2::/64");
  EXPECT_EQ(address_key("::1", 64), "::/64");
}

TEST(AddressKey, NotAnAddressStaysAsItIs) {
  EXPECT_EQ(address_key("not-an-ip", 64), "not-an-ip");
  EXPECT_EQ(address_key("", 64), "");
}

TEST(ConnectionLimiter, Ipv6CountedByPrefix) {
  ConnectionLimiter c(100, 2, 0, 64);
  EXPECT_TRUE(c.acquire("2001:db8:1:2::1"));
  EXPECT_TRUE(c.acquire("2001:db8:1:2::2"));
  EXPECT_FALSE(c.acquire("2001:db8:1:2:ffff::3"));  // same /64
  EXPECT_TRUE(c.acquire("2001:db8:1:3::1"));        // another /64
  EXPECT_TRUE(c.acquire("192.0.2.1"));
  EXPECT_TRUE(c.acquire("::ffff:192.0.2.1"));
  EXPECT_FALSE(c.acquire("192.0.2.1"));  // the mapped form counted as the same address
  c.release("2001:db8:1:2::2");
  EXPECT_TRUE(c.acquire("2001:db8:1:2::99"));
  ConnectionLimiter full(100, 1, 0, 128);
  EXPECT_TRUE(full.acquire("2001:db8:1:2::1"));
  EXPECT_TRUE(full.acquire("2001:db8:1:2::2"));  // /128: each address is its own client
}

TEST(ConnectionLimiter, StreamsLeaveTheReserve) {
  ConnectionLimiter c(5, 0, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(c.acquire("a"));
    EXPECT_TRUE(c.acquire_stream());
  }
  EXPECT_TRUE(c.acquire("a"));
  EXPECT_FALSE(c.acquire_stream());  // three streams: the other two places stay ordinary
  EXPECT_TRUE(c.acquire("a"));
  EXPECT_FALSE(c.acquire("a"));
  c.release_stream();
  EXPECT_TRUE(c.acquire_stream());
  EXPECT_EQ(c.streams(), 3);
  EXPECT_EQ(c.total(), 5);
}

TEST(RateLimiter, Ipv6CountedByPrefix) {
  RateLimiter r(1, 2, 64);
  EXPECT_TRUE(r.allow("2001:db8::1", 0));
  EXPECT_TRUE(r.allow("2001:db8::2", 0));
  EXPECT_FALSE(r.allow("2001:db8::3", 0));  // a fresh address in the same /64
  EXPECT_TRUE(r.allow("2001:db8:0:1::3", 0));
  EXPECT_TRUE(r.allow("192.0.2.9", 0));
  EXPECT_TRUE(r.allow("::ffff:192.0.2.9", 0));
  EXPECT_FALSE(r.allow("192.0.2.9", 0));
}

TEST(RateLimiter, BurstThenRate) {
  RateLimiter r(2, 3);
  EXPECT_TRUE(r.allow("x", 0));
  EXPECT_TRUE(r.allow("x", 0));
  EXPECT_TRUE(r.allow("x", 0));
  EXPECT_FALSE(r.allow("x", 0));
  EXPECT_TRUE(r.allow("y", 0));  // others unaffected
  EXPECT_TRUE(r.allow("x", 500));
  EXPECT_FALSE(r.allow("x", 500));
  RateLimiter off(0, 0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(off.allow("x", 0));
}

}  // namespace
TEST(ConnectionLimiter, ExemptConnectionsCountInTheTotalOnly) {
  ConnectionLimiter c(3, 1);
  EXPECT_TRUE(c.acquire("10.0.0.1", /*per_address=*/false));
  EXPECT_TRUE(c.acquire("10.0.0.1", /*per_address=*/false));  // a proxy: no per-address cap
  EXPECT_TRUE(c.acquire("10.0.0.1"));                          // its own count is untouched
  EXPECT_FALSE(c.acquire("10.0.0.2", /*per_address=*/false));  // but the total is reached
  c.release("10.0.0.1", /*per_address=*/false);
  EXPECT_EQ(c.total(), 2);
  EXPECT_FALSE(c.acquire("10.0.0.1"));  // the counted one still holds its place
}

}  // namespace anteroom::http
