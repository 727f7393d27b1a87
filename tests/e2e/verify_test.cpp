// `GET /v1/verify` as a protected site uses it: the issued token passes, anything else is 401.
// Tokens are crafted here with OpenSSL, independently of the server's code.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "support/anteroom_process.hpp"
#include "support/jwt.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

// One admitted visitor in queue "shop" (plus a queue "other"), with its issued token.
class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.MustPutQueue("shop", {{"max_active", 10}, {"admit_per_s", 100}});
    server_.MustPutQueue("other", {{"max_active", 10}, {"admit_per_s", 100}});
    ticket_ = server_.MustJoin("shop");
    ASSERT_FALSE(ticket_.empty());
    auto stream = server_.Events("shop", ticket_);
    auto admitted = stream->WaitFor("admitted");
    ASSERT_TRUE(admitted) << stream->raw();
    token_ = Str(admitted->Json(), "token");
    ASSERT_FALSE(token_.empty()) << admitted->Describe();
    ASSERT_EQ(server_.Verify(token_).status, 204);
  }

  json::object Claims(long long exp) const {
    return {{"queue", "shop"}, {"ticket", ticket_}, {"exp", exp}};
  }

  static void ExpectRefused(const HttpResponse& r, const std::string& what) {
    EXPECT_EQ(r.status, 401) << what << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "invalid_token") << what << ": " << r;
    EXPECT_FALSE(r.HasHeader("X-Anteroom-Ticket")) << what << ": " << r;
  }

  AnteroomProcess server_;
  std::string ticket_;
  std::string token_;
};

// Positive control for the crafted tokens below: the right secret and claims are accepted, so
// a refusal of a crafted token is about the one thing the test changed.
TEST_F(VerifyTest, AcceptsATokenCraftedWithTheSharedSecret) {
  std::string crafted = MakeJwt(Claims(UnixNow() + 300), kTokenSecret);
  HttpResponse r = server_.Verify(crafted);
  EXPECT_EQ(r.status, 204) << r;
  EXPECT_EQ(r.Header("X-Anteroom-Ticket"), ticket_) << r;
}

TEST_F(VerifyTest, RefusesATokenSignedWithAnotherSecret) {
  ExpectRefused(server_.Verify(MakeJwt(Claims(UnixNow() + 300), "not-the-secret")), "forged");
}

TEST_F(VerifyTest, RefusesATamperedPayload) {
  auto parts = DecodeJwt(token_);
  ASSERT_TRUE(parts);
  json::object claims = parts->claims.as_object();
  claims["exp"] = UnixNow() + 86400;
  ExpectRefused(server_.Verify(ReplaceJwtClaims(token_, claims)), "longer exp, old signature");
  claims = parts->claims.as_object();
  claims["queue"] = "other";
  ExpectRefused(server_.Verify(ReplaceJwtClaims(token_, claims)), "other queue, old signature");
  std::string flipped = token_;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  ExpectRefused(server_.Verify(flipped), "signature changed");
}

TEST_F(VerifyTest, RefusesAnExpiredToken) {
  ExpectRefused(server_.Verify(MakeJwt(Claims(UnixNow() - 60), kTokenSecret)), "expired");
}

TEST_F(VerifyTest, RefusesATokenForAnotherQueue) {
  ExpectRefused(server_.Verify(token_, "queue=other"), "?queue=other");
  ExpectRefused(server_.Verify(token_, "", {{"X-Anteroom-Expect-Queue", "other"}}),
                "X-Anteroom-Expect-Queue: other");
  json::object claims = Claims(UnixNow() + 300);
  claims["queue"] = "other";
  ExpectRefused(server_.Verify(MakeJwt(claims, kTokenSecret)), "ticket of shop claimed for other");
}

TEST_F(VerifyTest, RefusesGarbage) {
  for (std::string garbage : {"garbage", "a.b.c", "..", "eyJhbGciOiJIUzI1NiJ9.e30.", "%%%%"}) {
    ExpectRefused(server_.Verify(garbage), "Bearer " + garbage);
    ExpectRefused(server_.Verify("", "", {{"Cookie", "anteroom_token=" + garbage}}),
                  "cookie " + garbage);
  }
  ExpectRefused(server_.Verify("", "", {{"Authorization", "Basic dGVzdDp0ZXN0"}}), "Basic auth");
}

TEST_F(VerifyTest, RefusesAMissingToken) {
  ExpectRefused(server_.Verify(""), "no token");
  ExpectRefused(server_.Verify("", "", {{"Cookie", "other_cookie=1"}}), "unrelated cookie");
}

TEST_F(VerifyTest, RefusesAlgNone) {
  json::object header{{"alg", "none"}, {"typ", "JWT"}};
  std::string unsigned_token = Base64UrlEncode(json::serialize(header)) + "." +
                               Base64UrlEncode(json::serialize(Claims(UnixNow() + 300))) + ".";
  ExpectRefused(server_.Verify(unsigned_token), "alg none");
}

}  // namespace
}  // namespace anteroom::testing
