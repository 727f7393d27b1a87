// The client address behind proxies: which X-Forwarded-For entry names the client (hops, a
// trusted-proxy list), what is never believed (garbage, untrusted peers, unconfigured headers).
#include "http/request.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace anteroom::http {
namespace {

using HeaderList = std::initializer_list<std::pair<std::string_view, std::string_view>>;

HttpRequest With(HeaderList headers) {
  HttpRequest r;
  for (const auto& h : headers) r.headers.push_back(h);
  return r;
}

std::vector<Cidr> List(std::string_view text) {
  std::string why;
  auto l = parse_cidr_list(text, why);
  EXPECT_TRUE(l) << text << ": " << why;
  return l.value_or(std::vector<Cidr>{});
}

ProxyTrust Hops(unsigned n) {
  ProxyTrust t;
  t.hops = n;
  return t;
}

ProxyTrust Trusted(std::string_view cidrs) {
  ProxyTrust t;
  t.trusted = List(cidrs);
  return t;
}

std::string Addr(std::string_view entry) {
  auto a = parse_forwarded_address(entry);
  return a ? a->to_string() : "(none)";
}

TEST(RequestForwardedEntry, AddressesInEveryWrittenForm) {
  EXPECT_EQ(Addr("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(Addr(" 203.0.113.7 "), "203.0.113.7");
  EXPECT_EQ(Addr("203.0.113.7:5678"), "203.0.113.7");
  EXPECT_EQ(Addr("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(Addr("2001:DB8:0:0::1"), "2001:db8::1") << "canonical: one client, one key";
  EXPECT_EQ(Addr("[2001:db8::1]"), "2001:db8::1");
  EXPECT_EQ(Addr("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(Addr("::ffff:203.0.113.7"), "203.0.113.7") << "IPv4-mapped is the IPv4 client";
  EXPECT_EQ(Addr("[::ffff:203.0.113.7]:80"), "203.0.113.7");
}

TEST(RequestForwardedEntry, GarbageIsNoAddress) {
  for (std::string_view bad :
       {"", "unknown", "_hidden", "example.com", "203.0.113", "203.0.113.7.1",
        "203.0.113.7:", "203.0.113.7:port", "203.0.113.7:123456", "fe80::1%eth0", "[fe80::1%eth0]",
        "[2001:db8::1", "[2001:db8::1]x", "[2001:db8::1]:", "[203.0.113.7]", "2001:db8::1:443x",
        "1.2.3.4 5.6.7.8", "300.0.0.1", "1.2.3.4\r\n"}) {
    EXPECT_EQ(Addr(bad), "(none)") << "'" << bad << "'";
  }
}

TEST(RequestCidr, ParsesAndMatches) {
  auto l = List("10.0.0.0/8, 127.0.0.1/32,2001:db8::/32 ,192.168.1.7, ::1");
  ASSERT_EQ(l.size(), 5u);
  namespace ip = boost::asio::ip;
  EXPECT_TRUE(l[0].contains(ip::make_address("10.255.1.2")));
  EXPECT_FALSE(l[0].contains(ip::make_address("11.0.0.1")));
  EXPECT_TRUE(l[0].contains(ip::make_address("::ffff:10.1.2.3"))) << "v4-mapped peer";
  EXPECT_TRUE(l[1].contains(ip::make_address("127.0.0.1")));
  EXPECT_FALSE(l[1].contains(ip::make_address("127.0.0.2")));
  EXPECT_TRUE(l[2].contains(ip::make_address("2001:db8:ffff::9")));
  EXPECT_FALSE(l[2].contains(ip::make_address("2001:db9::1")));
  EXPECT_FALSE(l[2].contains(ip::make_address("10.0.0.1")));
  EXPECT_TRUE(l[3].contains(ip::make_address("192.168.1.7")));
  EXPECT_FALSE(l[3].contains(ip::make_address("192.168.1.8")));
  EXPECT_TRUE(l[4].contains(ip::make_address("::1")));
  EXPECT_FALSE(l[4].contains(ip::make_address("127.0.0.1")));
  // Host bits in the network are cleared, as the prefix says.
  EXPECT_TRUE(List("10.1.2.3/8")[0].contains(ip::make_address("10.9.9.9")));
  // An IPv4-mapped range is the IPv4 range.
  EXPECT_TRUE(List("::ffff:10.0.0.0/104")[0].contains(ip::make_address("10.200.0.1")));
  EXPECT_TRUE(List("0.0.0.0/0")[0].contains(ip::make_address("203.0.113.7")));
}

TEST(RequestCidr, RefusesWhatIsNotARange) {
  for (std::string_view bad :
       {"", ",", "10.0.0.0/8,", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1",
        "example.com/8", "fe80::1%eth0/64", "10.0.0.0/8/8", "::ffff:10.0.0.0/8"}) {
    std::string why;
    EXPECT_FALSE(parse_cidr_list(bad, why)) << "'" << bad << "'";
    EXPECT_FALSE(why.empty()) << "'" << bad << "'";
  }
}

TEST(RequestClientAddress, NoTrustMeansThePeer) {
  auto r = With({{"X-Forwarded-For", "198.51.100.1"}, {"X-Real-IP", "198.51.100.2"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", ProxyTrust{}), "127.0.0.1");
}

TEST(RequestClientAddress, HopsCountFromTheRight) {
  // What a client forged on the left stays on the left: nginx appends the peer it saw.
  auto r = With({{"X-Forwarded-For", "1.1.1.1, 203.0.113.7, 10.0.0.5"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(1)), "10.0.0.5");
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(2)), "203.0.113.7");
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(3)), "1.1.1.1");
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(4)), "127.0.0.1")
      << "fewer entries than proxies: the request did not come the documented way";
  EXPECT_EQ(client_address(With({}), "127.0.0.1", Hops(1)), "127.0.0.1") << "no header";
}

TEST(RequestClientAddress, XRealIpIsIgnoredUnlessConfigured) {
  auto r = With({{"X-Real-IP", "9.9.9.9"}, {"X-Forwarded-For", "9.9.9.8, 203.0.113.7"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(1)), "203.0.113.7");
  EXPECT_EQ(client_address(r, "127.0.0.1", Trusted("127.0.0.1")), "203.0.113.7");
}

TEST(RequestClientAddress, SeveralHeaderLinesAreOneList) {
  auto r = With({{"X-Forwarded-For", "1.1.1.1, 203.0.113.7"},
                 {"Accept", "*/*"},
                 {"x-forwarded-for", "10.0.0.5"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(1)), "10.0.0.5");
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(2)), "203.0.113.7");
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(3)), "1.1.1.1");
  EXPECT_EQ(client_address(r, "127.0.0.1", Trusted("127.0.0.1, 10.0.0.0/8")), "203.0.113.7");
  // Empty elements (", ,", an empty line) are no entries (RFC 9110 5.6.1).
  auto gaps = With({{"X-Forwarded-For", "203.0.113.7, ,"}, {"X-Forwarded-For", ""}});
  EXPECT_EQ(client_address(gaps, "127.0.0.1", Hops(1)), "203.0.113.7");
}

TEST(RequestClientAddress, GarbageWhereTheClientShouldBeGivesThePeer) {
  for (std::string_view xff : {"203.0.113.7, unknown", "203.0.113.7, evil.example",
                               "203.0.113.7, fe80::1%eth0", "x, 10.0.0.5, ;;"}) {
    auto r = With({{"X-Forwarded-For", xff}});
    EXPECT_EQ(client_address(r, "127.0.0.1", Hops(1)), "127.0.0.1") << xff;
    EXPECT_EQ(client_address(r, "127.0.0.1", Trusted("127.0.0.1")), "127.0.0.1") << xff;
  }
  // Hops 2 looks at the two rightmost: garbage in either is doubt.
  auto r = With({{"X-Forwarded-For", "203.0.113.7, bogus, 10.0.0.5"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(2)), "127.0.0.1");
}

TEST(RequestClientAddress, GarbageTheClientWroteFurtherLeftIsNotLookedAt) {
  // Else a client could push itself onto the proxy's shared key (and use up its budget).
  auto r = With({{"X-Forwarded-For", "<script>, unknown, 203.0.113.7"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", Hops(1)), "203.0.113.7");
  EXPECT_EQ(client_address(r, "127.0.0.1", Trusted("127.0.0.0/8")), "203.0.113.7");
}

TEST(RequestClientAddress, TrustedListWalksPastOurProxies) {
  auto trust = Trusted("127.0.0.1/32, 10.0.0.0/8");
  auto r = With({{"X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.9, 10.0.0.5"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", trust), "203.0.113.7");
  // The peer must be one of them for any header to be believed.
  EXPECT_EQ(client_address(r, "192.0.2.1", trust), "192.0.2.1");
  // All ours: the leftmost (a request from inside).
  auto inside = With({{"X-Forwarded-For", "10.0.0.9, 10.0.0.5"}});
  EXPECT_EQ(client_address(inside, "127.0.0.1", trust), "10.0.0.9");
  // A v4-mapped peer is matched as IPv4.
  EXPECT_EQ(client_address(r, "::ffff:127.0.0.1", trust), "203.0.113.7");
}

TEST(RequestClientAddress, TrustedListWithHopsGatesThePeerAndCounts) {
  auto trust = Trusted("127.0.0.1");
  trust.hops = 2;
  auto r = With({{"X-Forwarded-For", "6.6.6.6, 203.0.113.7, 198.51.100.4"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", trust), "203.0.113.7");
  EXPECT_EQ(client_address(r, "127.0.0.2", trust), "127.0.0.2");
}

TEST(RequestClientAddress, IPv6EntriesAreCanonical) {
  auto r = With({{"X-Forwarded-For", "[2001:DB8::7]:51000"}});
  EXPECT_EQ(client_address(r, "::1", Hops(1)), "2001:db8::7");
  auto mapped = With({{"X-Forwarded-For", "::ffff:203.0.113.7"}});
  EXPECT_EQ(client_address(mapped, "::1", Trusted("::1")), "203.0.113.7");
  auto bare = With({{"X-Forwarded-For", "2001:db8::7"}});
  EXPECT_EQ(client_address(bare, "::1", Hops(1)), "2001:db8::7");
}

TEST(RequestClientAddress, RealIpHeaderOnlyFromATrustedPeer) {
  auto trust = Trusted("127.0.0.1");
  trust.real_ip_header = "X-Real-IP";
  auto r = With({{"X-Real-IP", "198.51.100.9"}, {"X-Forwarded-For", "203.0.113.7"}});
  EXPECT_EQ(client_address(r, "127.0.0.1", trust), "198.51.100.9");
  EXPECT_EQ(client_address(r, "127.0.0.2", trust), "127.0.0.2") << "untrusted peer";
  // Absent: X-Forwarded-For decides.
  EXPECT_EQ(client_address(With({{"X-Forwarded-For", "203.0.113.7"}}), "127.0.0.1", trust),
            "203.0.113.7");
  // Not one valid address: the peer, never the string.
  for (std::string_view bad : {"unknown", "198.51.100.9, 1.1.1.1", "", "198.51.100.9:80"}) {
    auto g = With({{"X-Real-IP", bad}, {"X-Forwarded-For", "203.0.113.7"}});
    EXPECT_EQ(client_address(g, "127.0.0.1", trust), "127.0.0.1") << "'" << bad << "'";
  }
  // Two lines: someone besides the proxy wrote one.
  auto twice = With({{"X-Real-IP", "198.51.100.9"}, {"x-real-ip", "198.51.100.10"}});
  EXPECT_EQ(client_address(twice, "127.0.0.1", trust), "127.0.0.1");
}

}  // namespace
}  // namespace anteroom::http
