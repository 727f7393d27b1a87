#include "token/jwt.hpp"

#include <gtest/gtest.h>

namespace anteroom {
namespace {

TEST(Jwt, RoundTrip) {
  TokenSigner s("secret");
  auto tok = s.sign({"concert", "abc", 2000});
  auto c = s.verify(tok, 1000);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->queue, "concert");
  EXPECT_EQ(c->ticket, "abc");
  EXPECT_EQ(c->exp, 2000);
}

TEST(Jwt, KnownVectorFromAnotherImplementation) {
  // HS256 over {"alg":"HS256","typ":"JWT"}.{"queue":"q","ticket":"t","exp":4102444800},
  // computed with Python's hmac module and key "k".
  TokenSigner s("k");
  EXPECT_EQ(s.sign({"q", "t", 4102444800}),
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
            "eyJxdWV1ZSI6InEiLCJ0aWNrZXQiOiJ0IiwiZXhwIjo0MTAyNDQ0ODAwfQ."
            "AOlPleEYsDNqeiTZZXG-k0FrThOdK6cB2aYoJEdyJGg");
}

TEST(Jwt, RefusesForgedTamperedExpiredAndGarbage) {
  TokenSigner s("secret");
  TokenSigner other("other");
  auto tok = s.sign({"q", "t", 2000});
  EXPECT_FALSE(s.verify(other.sign({"q", "t", 2000}), 1000).ok());
  std::string tampered = tok;
  tampered[tok.find('.') + 3] ^= 1;
  EXPECT_FALSE(s.verify(tampered, 1000).ok());
  EXPECT_FALSE(s.verify(tok, 2000).ok());
  EXPECT_FALSE(s.verify("", 1000).ok());
  EXPECT_FALSE(s.verify("a.b", 1000).ok());
  EXPECT_FALSE(s.verify("a.b.c.d", 1000).ok());
  EXPECT_EQ(s.verify("x.y.z", 1000).error().code, Errc::unauthorized);
}

}  // namespace
}  // namespace anteroom
