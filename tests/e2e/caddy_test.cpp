// A real Caddy in front of anteroom and a protected site, running the shipped
// examples/caddy/Caddyfile (docs/proxy.md, "Caddy"): `forward_auth` to /v1/verify gates /shop,
// a refusal becomes a 302 to the waiting page, an admitted visitor's cookie (or ?anteroom_token)
// lets it through with X-Anteroom-Ticket passed to the site, the visitor's SSE stream flows
// through Caddy, a dead anteroom process in the upstream list is skipped, and anteroom sees the
// visitor's address, not Caddy's. Caddy missing is a failure, never a skip.
#include "support/caddy.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/jwt.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

// anteroom (embedded), the site, and in front of both the shipped Caddyfile with two anteroom
// upstreams: a port nothing listens on (a dead process, which Caddy must skip) and the real one.
class CaddyFront {
 public:
  explicit CaddyFront(const std::vector<std::string>& anteroom_args = {})
      : anteroom_(WithTrustedCaddy(anteroom_args)),
        caddy_({FreeLoopbackPort(), anteroom_.port()}, site_.port()) {}

  AnteroomProcess& anteroom() { return anteroom_; }
  const ExampleCaddy& caddy() const { return caddy_; }

 private:
  // Caddy connects from 127.0.0.1 and writes the visitor's address into X-Forwarded-For.
  static std::vector<std::string> WithTrustedCaddy(std::vector<std::string> args) {
    args.insert(args.end(), {"--trusted-proxies", "127.0.0.1/32"});
    return args;
  }

  AnteroomProcess anteroom_;
  EchoSite site_;
  ExampleCaddy caddy_;
};

// Refused at the gate: a 302 to the waiting page, nothing of the site, not kept by the browser.
void ExpectSentToWaitingRoom(const HttpResponse& r, const std::string& what) {
  EXPECT_EQ(r.status, 302) << what << ": " << r;
  EXPECT_EQ(r.Header("Location"), "/q/shop") << what << ": " << r;
  EXPECT_EQ(r.body.find(kEchoSiteBody), std::string::npos)
      << what << ": the site was served: " << r;
  EXPECT_EQ(r.Header("Cache-Control"), "no-store") << what << ": " << r;
}

// Let through: the site's body, with the admitted ticket (not a forged one) passed on.
void ExpectServedAs(const HttpResponse& r, const std::string& ticket, const std::string& what) {
  EXPECT_EQ(r.status, 200) << what << ": " << r;
  EXPECT_EQ(r.body, std::string(kEchoSiteBody) + "; ticket=" + ticket + "; queue=shop")
      << what << ": " << r;
  EXPECT_EQ(r.Header("Cache-Control"), "no-store") << what << ": the site's max-age survived";
}

TEST(Caddy, ForwardAuthSendsVisitorsThroughTheWaitingRoomToTheSite) {
  CaddyFront f;
  const ExampleCaddy& front = f.caddy();
  // Nobody is admitted until the test opens the doors: the visitor waits first.
  f.anteroom().MustPutQueue("shop",
                            {{"max_active", 0}, {"admit_per_s", 100}, {"target_url", "/shop/"}});

  ExpectSentToWaitingRoom(front.Get("/shop/"), "no token");
  ExpectSentToWaitingRoom(front.Get("/shop"), "no token, no trailing slash");
  ExpectSentToWaitingRoom(front.Get("/shop/cart?item=1", {{"X-Anteroom-Ticket", "forged"}}),
                          "no token, a forged identity header");
  HttpResponse page = front.Get("/q/shop");
  EXPECT_EQ(page.status, 200) << "the waiting page through Caddy: " << page << "\n" << front.Log();

  // Join through Caddy, follow the ticket's event stream through Caddy.
  HttpResponse join = front.Join("shop");
  ASSERT_EQ(join.status, 201) << join << "\n" << front.Log();
  std::string ticket = Str(join.Json(), "ticket");
  ASSERT_FALSE(ticket.empty()) << join;
  EXPECT_EQ(Str(join.Json(), "status"), "waiting") << join;
  SseClient stream(front.port(), AnteroomProcess::EventsPath("shop", ticket));
  ASSERT_EQ(stream.status(), 200) << stream.error_body() << "\n" << front.Log();
  ASSERT_TRUE(WaitForPosition(stream, 1)) << stream.raw();

  // Tokens that must not open the gate, the last one signed with the right secret: a waiting
  // ticket has no session yet, whatever a token says.
  json::object claims{{"queue", "shop"}, {"ticket", ticket}, {"exp", UnixNow() + 300}};
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, "not-the-secret")), "forged signature");
  ExpectSentToWaitingRoom(front.Shop("garbage"), "garbage cookie");
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, kTokenSecret)), "ticket still waiting");

  // Doors open: the admission reaches the visitor through Caddy's stream at once.
  f.anteroom().MustPutQueue("shop",
                            {{"max_active", 1}, {"admit_per_s", 100}, {"target_url", "/shop/"}});
  auto admitted = stream.WaitFor("admitted");
  ASSERT_TRUE(admitted) << stream.raw() << "\n" << front.Log();
  std::string token = Str(admitted->Json(), "token");
  ASSERT_FALSE(token.empty()) << admitted->Describe();

  ExpectServedAs(front.Shop(token), ticket, "the admission cookie");
  ExpectServedAs(front.Get("/shop/", {{"Cookie", "theme=dark; anteroom_token=" + token},
                                      {"X-Anteroom-Ticket", "forged"}}),
                 ticket, "cookie among others, a forged identity header replaced");
  ExpectServedAs(front.Get("/shop/?anteroom_token=" + token), ticket, "?anteroom_token=");
  ExpectServedAs(front.Shop(token, "/shop"), ticket, "no trailing slash");

  // Expired, or tampered with, or for another queue: back to the waiting room.
  claims["exp"] = UnixNow() - 60;
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, kTokenSecret)), "expired token");
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  ExpectSentToWaitingRoom(front.Shop(flipped), "signature changed");
  claims["exp"] = UnixNow() + 300;
  claims["queue"] = "other";
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, kTokenSecret)), "token for another queue");
  // A visitor's own Bearer header is not a way in (only the cookie or ?anteroom_token are).
  ExpectSentToWaitingRoom(front.Get("/shop/", {{"Authorization", "Bearer " + token}}),
                          "Authorization header");

  // The session ends (the shop reports the purchase done): the same cookie no longer opens it.
  HttpResponse done = f.anteroom().Complete("shop", ticket);
  ASSERT_EQ(done.status / 100, 2) << done;
  ExpectSentToWaitingRoom(front.Shop(token), "session completed");
}

// The join limit sees each visitor's own address through Caddy: a visitor forging
// X-Forwarded-For gains nothing, another visitor has its own budget.
TEST(Caddy, AnteroomSeesTheVisitorsAddressNotCaddys) {
  CaddyFront f({"--join-rate-per-ip", "0.01", "--join-burst-per-ip", "1"});
  const ExampleCaddy& front = f.caddy();
  f.anteroom().MustPutQueue("shop", {{"max_active", 0}});
  HttpResponse a1 = front.Join("shop", "127.0.0.2", {{"X-Forwarded-For", "198.18.0.1"}});
  ASSERT_EQ(a1.status, 201) << a1 << "\n" << front.Log();
  for (const char* forged : {"198.18.0.2", "198.18.0.3, 198.18.0.4"}) {
    HttpResponse a = front.Join("shop", "127.0.0.2", {{"X-Forwarded-For", forged}});
    EXPECT_EQ(a.status, 429) << "visitor 127.0.0.2 forging X-Forwarded-For: " << forged << ": "
                             << a;
  }
  HttpResponse b1 = front.Join("shop", "127.0.0.3");
  EXPECT_EQ(b1.status, 201) << "another visitor: " << b1;
  EXPECT_EQ(front.Join("shop", "127.0.0.3").status, 429);
  EXPECT_EQ(IntAt(f.anteroom().MustStats("shop"), {"waiting"}), 2);
}

}  // namespace
}  // namespace anteroom::testing
