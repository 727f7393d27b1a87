#include "webhooks/address_policy.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_future.hpp>

#include "webhooks/sender.hpp"

namespace anteroom {
namespace {

namespace ip = boost::asio::ip;

TEST(AddressPolicy, NonPublicAddresses) {
  for (const char* a : {"127.0.0.1",  "127.255.0.9",     "169.254.169.254",  "10.0.0.1",
                        "172.16.0.1", "172.31.255.255",  "192.168.0.1",      "0.0.0.0",
                        "224.0.0.1",  "255.255.255.255", "100.64.0.1",       "::1",
                        "::",         "fe80::1",         "febf::1",          "fc00::1",
                        "fd12::1",    "ff02::1",         "::ffff:127.0.0.1", "::ffff:10.1.2.3"})
    EXPECT_TRUE(is_non_public(ip::make_address(a))) << a;
  for (const char* a :
       {"93.184.215.14", "8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1", "169.255.0.1",
        "2001:db8::1", "2606:4700::1111", "fec0::1", "::ffff:8.8.8.8"})
    EXPECT_FALSE(is_non_public(ip::make_address(a))) << a;
}

TEST(AddressPolicy, LiteralsAndLocalhostInUrlsAreRefused) {
  for (const char* u :
       {"http://127.0.0.1:9/h", "http://169.254.169.254/latest", "http://10.0.0.1/",
        "http://[::1]:8080/", "https://[fe80::1]/", "http://localhost/", "http://LocalHost./",
        "http://a.localhost/", "http://127.1/", "http://2130706433/", "http://0x7f.1/",
        "http://[::ffff:169.254.169.254]/"}) {
    auto why = webhook_url_refusal(u);
    ASSERT_TRUE(why.has_value()) << u;
    EXPECT_NE(why->find("--webhook-allow-private"), std::string::npos) << *why;
  }
  for (const char* u : {"http://93.184.215.14/h", "https://hooks.example/h", "http://x/y",
                        "https://[2606:4700::1111]/", "http://1.2.3.4.example/"})
    EXPECT_FALSE(webhook_url_refusal(u).has_value()) << u;
}

// A host name is judged by what it resolves to, at send time: "localhost" resolves to loopback
// everywhere, so nothing is sent (no connection is even tried) and the result says why.
TEST(AddressPolicy, SendTimeRefusesNamesResolvingToNonPublicAddresses) {
  boost::asio::io_context io;
  boost::asio::ssl::context tls(boost::asio::ssl::context::tls_client);
  auto fut = boost::asio::co_spawn(
      io, http_post(tls, "http://localhost:1/hook", {}, "{}", std::chrono::seconds(5), false),
      boost::asio::use_future);
  io.run();
  PostResult r = fut.get();
  EXPECT_TRUE(r.refused);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("non-public"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("--webhook-allow-private"), std::string::npos) << r.error;

  // Allowed: the connection is tried (port 1 refuses it), so the failure is not a refusal.
  boost::asio::io_context io2;
  auto fut2 = boost::asio::co_spawn(
      io2, http_post(tls, "http://localhost:1/hook", {}, "{}", std::chrono::seconds(5), true),
      boost::asio::use_future);
  io2.run();
  PostResult r2 = fut2.get();
  EXPECT_FALSE(r2.refused);
  EXPECT_EQ(r2.status, 0);
  EXPECT_NE(r2.error.find("connect"), std::string::npos) << r2.error;
}

}  // namespace
}  // namespace anteroom
