// Proof-of-work joins (SPEC §8, docs/pow.md), embedded: a JSON client written here from the
// documentation (support/pow_client: OpenSSL, nothing of src/pow) fetches a challenge, solves it
// and joins; every refusal reason is provoked and answered with its code and a fresh challenge;
// a proof is single use; the bits adapt to a busy network and fall back, while another network
// stays at the base.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "support/anteroom_process.hpp"
#include "support/pow_client.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// A queue needing `bits`, not adaptive: the refusal tests make many requests from one address,
// which must not raise the price under them.
json::object FixedPow(int bits) {
  return json::object{{"max_active", 0},
                      {"pow", json::object{{"bits", bits}, {"adaptive", false}}}};
}

// Checks a pow_* refusal: 403, its code, the bits the queue needs and a fresh challenge for them,
// in the shape GET .../challenge has. Returns the challenge text ("" on failure).
std::string ExpectPowRefusal(const HttpResponse& r, std::string_view code, int bits,
                             std::string_view queue) {
  EXPECT_EQ(r.status, 403) << r;
  EXPECT_EQ(r.ErrorCode(), code) << r;
  json::value v = r.Json();
  EXPECT_FALSE(Str(v, "message").empty()) << r;
  EXPECT_EQ(Int(v, "bits"), bits) << r;
  const json::value* c = Field(v, "challenge");
  if (!c) {
    ADD_FAILURE() << "no challenge in " << r;
    return "";
  }
  EXPECT_EQ(Int(*c, "bits"), bits) << r;
  EXPECT_EQ(Str(*c, "algorithm"), "sha256-leading-zero-bits") << r;
  EXPECT_EQ(Str(*c, "input"), "challenge:nonce") << r;
  std::string text = Str(*c, "challenge");
  EXPECT_EQ(text.rfind("pow1." + std::string(queue) + "." + std::to_string(bits) + ".", 0), 0u)
      << r;
  return text;
}

double Refused(const AnteroomProcess& p, std::string_view reason) {
  return SumMetric(p.Metrics().body,
                   "anteroom_pow_refused_total{reason=\"" + std::string(reason) + "\"}")
      .value_or(-1);
}

TEST(Pow, JsonClientFetchesSolvesAndJoins) {
  AnteroomProcess server;
  server.MustPutQueue("sale", {{"max_active", 0}, {"pow", json::object{{"bits", 14}}}});

  HttpResponse got = GetChallenge(server, "sale");
  ASSERT_EQ(got.status, 200) << got;
  EXPECT_EQ(got.Header("Cache-Control"), "no-store") << got;
  json::value c = got.Json();
  EXPECT_EQ(Int(c, "bits"), 14) << got;
  EXPECT_EQ(Str(c, "algorithm"), "sha256-leading-zero-bits") << got;
  EXPECT_EQ(Str(c, "input"), "challenge:nonce") << got;
  std::string text = Str(c, "challenge");
  EXPECT_EQ(text.rfind("pow1.sale.14." + std::to_string(*Int(c, "expires_ms")) + ".", 0), 0u)
      << got;
  // The default ttl_s (120 s) from now.
  EXPECT_NEAR(static_cast<double>(*Int(c, "expires_ms") - NowMs()), 120'000, 10'000) << got;

  long hashes = 0;
  std::string nonce = PowSolve(text, 14, &hashes);
  std::cout << "solved 14 bits in " << hashes << " hashes\n";
  HttpResponse joined = server.Join("sale", PowJoinBody(text, nonce));
  ASSERT_EQ(joined.status, 201) << joined;
  EXPECT_EQ(Str(joined.Json(), "status"), "waiting") << joined;
  EXPECT_EQ(Int(joined.Json(), "position"), 1) << joined;

  // One round trip: a join without a proof is refused with the challenge to solve.
  HttpResponse bare = server.Join("sale", json::object{{"user", "bob"}});
  std::string offered = ExpectPowRefusal(bare, "pow_required", 14, "sale");
  HttpResponse second = server.Join("sale", PowJoinBody(offered, PowSolve(offered, 14), "bob"));
  ASSERT_EQ(second.status, 201) << second;
  EXPECT_EQ(Int(second.Json(), "position"), 2) << second;

  std::string m = server.Metrics().body;
  EXPECT_EQ(Sample(m, "anteroom_pow_challenges_total"), 2) << m;
  EXPECT_EQ(Sample(m, "anteroom_pow_verified_total"), 2) << m;
  EXPECT_EQ(Sample(m, "anteroom_pow_bits_count"), 2) << m;
  EXPECT_EQ(Sample(m, "anteroom_pow_bits_sum"), 28) << m;
  EXPECT_EQ(SumMetric(m, "anteroom_pow_refused_total{reason=\"required\"}"), 1) << m;
}

TEST(Pow, DefaultBitsAndQueuesWithoutPow) {
  AnteroomProcess server;
  server.MustPutQueue("on", {{"pow", true}});
  HttpResponse on = GetChallenge(server, "on");
  ASSERT_EQ(on.status, 200) << on;
  EXPECT_EQ(Int(on.Json(), "bits"), 18) << on;  // rules::kDefaultPowBits, docs/pow.md

  // Off (the default): a challenge of 0 bits, and a join ignores whatever proof it carries.
  server.MustPutQueue("off", {{"max_active", 0}});
  HttpResponse off = GetChallenge(server, "off");
  ASSERT_EQ(off.status, 200) << off;
  EXPECT_EQ(Int(off.Json(), "bits"), 0) << off;
  EXPECT_EQ(server.Join("off").status, 201);
  HttpResponse junk = server.Join("off", PowJoinBody("pow1.nonsense", "1"));
  EXPECT_EQ(junk.status, 201) << junk;

  HttpResponse none = GetChallenge(server, "nosuch");
  EXPECT_EQ(none.status, 404) << none;
  EXPECT_EQ(none.ErrorCode(), "queue_not_found") << none;
  HttpResponse bad = GetChallenge(server, "Bad.Name");
  EXPECT_EQ(bad.status, 400) << bad;
}

TEST(Pow, EveryRefusalHasItsCode) {
  AnteroomProcess server;  // --token-secret test-secret (the support's default)
  server.MustPutQueue("sale", FixedPow(12));
  server.MustPutQueue("other", FixedPow(12));
  auto fresh = [&](std::string_view q) {
    HttpResponse r = GetChallenge(server, q);
    EXPECT_EQ(r.status, 200) << r;
    return Str(r.Json(), "challenge");
  };

  // pow_required: no proof.
  ExpectPowRefusal(server.Join("sale"), "pow_required", 12, "sale");

  // pow_invalid: a changed mac; a changed bits field (cheaper work, mac kept); not a challenge.
  std::string c = fresh("sale");
  std::string forged = c;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  ExpectPowRefusal(server.Join("sale", PowJoinBody(forged, PowSolve(forged, 12))), "pow_invalid",
                   12, "sale");
  forged = c;
  forged.replace(forged.find(".12."), 4, ".1.");
  ExpectPowRefusal(server.Join("sale", PowJoinBody(forged, PowSolve(forged, 1))), "pow_invalid", 12,
                   "sale");
  ExpectPowRefusal(server.Join("sale", PowJoinBody("hello", "1")), "pow_invalid", 12, "sale");
  // Signed with another secret's key.
  std::string theirs = PowSign(PowKey("not-the-secret"), "sale", 12, NowMs() + 60'000);
  ExpectPowRefusal(server.Join("sale", PowJoinBody(theirs, PowSolve(theirs, 12))), "pow_invalid",
                   12, "sale");
  // A nonce outside [A-Za-z0-9_-]{1,32}.
  ExpectPowRefusal(server.Join("sale", PowJoinBody(c, "1.5")), "pow_invalid", 12, "sale");
  ExpectPowRefusal(server.Join("sale", PowJoinBody(c, std::string(33, '1'))), "pow_invalid", 12,
                   "sale");

  // pow_wrong_queue: solved for another queue.
  std::string o = fresh("other");
  ExpectPowRefusal(server.Join("sale", PowJoinBody(o, PowSolve(o, 12))), "pow_wrong_queue", 12,
                   "sale");

  // pow_expired: signed here with the key docs/pow.md derives from the process's secret, already
  // expired (nothing to wait for). The same key's unexpired challenge is accepted: the doc is
  // the protocol.
  std::string key = PowKey(kTokenSecret);
  std::string old = PowSign(key, "sale", 12, NowMs() - 1'000);
  ExpectPowRefusal(server.Join("sale", PowJoinBody(old, PowSolve(old, 12))), "pow_expired", 12,
                   "sale");
  std::string ours = PowSign(key, "sale", 12, NowMs() + 60'000, "ourOwnIdOfTwentyTwoChr");
  HttpResponse accepted = server.Join("sale", PowJoinBody(ours, PowSolve(ours, 12)));
  EXPECT_EQ(accepted.status, 201) << accepted;

  // pow_insufficient: a nonce whose hash is short; a valid proof of a challenge asking fewer
  // bits than the queue needs; a valid proof of 12 bits after the queue went up to 14.
  c = fresh("sale");
  ExpectPowRefusal(server.Join("sale", PowJoinBody(c, PowSolveShort(c, 12))), "pow_insufficient",
                   12, "sale");
  std::string cheap = PowSign(key, "sale", 4, NowMs() + 60'000, "cheapIdOfTwentyTwoChrs");
  ExpectPowRefusal(server.Join("sale", PowJoinBody(cheap, PowSolve(cheap, 4))), "pow_insufficient",
                   12, "sale");
  std::string at12 = fresh("sale");
  std::string solved12 = PowSolve(at12, 12);
  server.MustPutQueue("sale", FixedPow(14));
  ExpectPowRefusal(server.Join("sale", PowJoinBody(at12, solved12)), "pow_insufficient", 14,
                   "sale");
  server.MustPutQueue("sale", FixedPow(12));

  // pow_used: the second use of a proof, by anyone else. The same user retrying with it gets
  // their ticket back (an idempotent retry is not a second use).
  c = fresh("sale");
  std::string n = PowSolve(c, 12);
  HttpResponse first = server.Join("sale", PowJoinBody(c, n, "carol"));
  ASSERT_EQ(first.status, 201) << first;
  HttpResponse retry = server.Join("sale", PowJoinBody(c, n, "carol"));
  EXPECT_EQ(retry.status, 200) << retry;
  EXPECT_EQ(Str(retry.Json(), "ticket"), Str(first.Json(), "ticket")) << retry;
  ExpectPowRefusal(server.Join("sale", PowJoinBody(c, n, "dave")), "pow_used", 12, "sale");
  ExpectPowRefusal(server.Join("sale", PowJoinBody(c, n)), "pow_used", 12, "sale");

  std::string m = server.Metrics().body;
  EXPECT_EQ(Refused(server, "required"), 1) << m;
  EXPECT_EQ(Refused(server, "invalid"), 6) << m;
  EXPECT_EQ(Refused(server, "wrong_queue"), 1) << m;
  EXPECT_EQ(Refused(server, "expired"), 1) << m;
  EXPECT_EQ(Refused(server, "insufficient"), 3) << m;
  EXPECT_EQ(Refused(server, "used"), 2) << m;
  EXPECT_EQ(Sample(m, "anteroom_pow_verified_total"), 2) << m;
}

TEST(Pow, MalformedProofFieldsAreBadRequests) {
  AnteroomProcess server;
  server.MustPutQueue("sale", FixedPow(12));
  for (json::value pow : {json::value("x"), json::value(json::object{{"challenge", "c"}}),
                          json::value(json::object{{"challenge", "c"}, {"nonce", 5}}),
                          json::value(json::object{{"challenge", "c"}, {"nonce", "1"}, {"x", 1}}),
                          json::value(json::array{})}) {
    HttpResponse r = server.Join("sale", json::object{{"pow", pow}});
    EXPECT_EQ(r.status, 400) << r;
    EXPECT_EQ(r.ErrorCode(), "bad_request") << r;
  }
  HttpResponse unknown = server.Join("sale", json::object{{"proof", 1}});
  EXPECT_EQ(unknown.status, 400) << unknown;
}

// The edge counts joins made with an invite code and invite refusals by reason in /metrics.
TEST(Pow, InviteJoinsAndRefusalsAreCounted) {
  AnteroomProcess server;
  server.MustPutQueue("members", {{"max_active", 0}, {"invite_only", true}});
  HttpResponse minted =
      server.Admin("POST", "/v1/queues/members/invites", R"({"count":2,"uses":1})");
  ASSERT_EQ(minted.status, 201) << minted;
  json::value body = minted.Json();  // (Field points into it)
  const json::value* list = Field(body, "invites");
  ASSERT_TRUE(list && list->is_array() && list->as_array().size() == 2) << minted;
  std::string code = Str(list->as_array()[0], "code");
  std::string other = Str(list->as_array()[1], "code");
  ASSERT_EQ(server.Admin("DELETE", "/v1/queues/members/invites/" + other).status, 200);

  EXPECT_EQ(server.Join("members").ErrorCode(), "invite_required");
  EXPECT_EQ(server.Join("members", json::object{{"invite", "not a code"}}).ErrorCode(),
            "invite_invalid");
  EXPECT_EQ(server.Join("members", json::object{{"invite", "0000000000000000"}}).ErrorCode(),
            "invite_invalid");
  EXPECT_EQ(server.Join("members", json::object{{"invite", code}}).status, 201);
  EXPECT_EQ(server.Join("members", json::object{{"invite", code}}).ErrorCode(), "invite_used_up");
  EXPECT_EQ(server.Join("members", json::object{{"invite", other}}).ErrorCode(), "invite_revoked");

  std::string m = server.Metrics().body;
  auto refused = [&](std::string_view reason) {
    return SumMetric(m, "anteroom_invite_refused_total{reason=\"" + std::string(reason) + "\"}");
  };
  EXPECT_EQ(Sample(m, "anteroom_invite_joins_total"), 1) << m;
  EXPECT_EQ(refused("required"), 1) << m;
  EXPECT_EQ(refused("invalid"), 2) << m;
  EXPECT_EQ(refused("used_up"), 1) << m;
  EXPECT_EQ(refused("revoked"), 1) << m;
  EXPECT_EQ(refused("expired"), 0) << m;
}

// Adaptive: one network (10.1.1.0/24, named by X-Forwarded-For behind --trust-proxy) joining in
// a burst sees its bits rise; another (10.2.2.0/24) stays at the base meanwhile; after the window
// the first is back at the base. The per-address join limit is off (the support's default
// --join-rate-per-ip 0), so only the meter decides.
TEST(Pow, BusyNetworkPaysMoreAndFallsBack) {
  AnteroomProcess server({"--trust-proxy"});
  constexpr int kBase = 4;
  server.MustPutQueue(
      "sale",
      {{"max_active", 0},
       {"pow",
        json::object{{"bits", kBase}, {"network_share", 8}, {"window_s", 2}, {"max_bits", 20}}}});
  auto from = [](std::string ip) { return Headers{{"X-Forwarded-For", ip}}; };

  int highest = kBase, last = kBase;
  for (int i = 0; i < 30; ++i) {
    Headers a = from("10.1.1." + std::to_string(1 + i % 200));
    HttpResponse got = GetChallenge(server, "sale", a);
    ASSERT_EQ(got.status, 200) << got;
    last = static_cast<int>(Int(got.Json(), "bits").value_or(-1));
    highest = std::max(highest, last);
    std::string c = Str(got.Json(), "challenge");
    HttpResponse joined = server.Join("sale", PowJoinBody(c, PowSolve(c, last)), a);
    ASSERT_EQ(joined.status, 201) << "round " << i << ": " << joined;
  }
  std::cout << "network 10.1.1.0/24: bits rose from " << kBase << " to " << highest << "\n";
  EXPECT_GE(highest, kBase + 2);
  EXPECT_GT(last, kBase);

  // Meanwhile another network pays the base, and joins with it.
  HttpResponse other = GetChallenge(server, "sale", from("10.2.2.9"));
  ASSERT_EQ(other.status, 200) << other;
  EXPECT_EQ(Int(other.Json(), "bits"), kBase) << other;
  std::string oc = Str(other.Json(), "challenge");
  HttpResponse oj = server.Join("sale", PowJoinBody(oc, PowSolve(oc, kBase)), from("10.2.2.9"));
  EXPECT_EQ(oj.status, 201) << oj;

  // After the window the busy network is back at the base. Each poll is itself a challenge: a
  // few per second stay well inside the share (8 per 2 s).
  int seen = -1;
  bool back = PollUntil(
      [&] {
        HttpResponse r = GetChallenge(server, "sale", from("10.1.1.77"));
        seen = static_cast<int>(Int(r.Json(), "bits").value_or(-1));
        return seen == kBase;
      },
      DeadlineIn(20s), 400ms);
  EXPECT_TRUE(back) << "bits still " << seen;
}

// The surge rule: a queue joined faster than surge_per_s costs every network more.
TEST(Pow, SurgingQueueCostsEveryoneMore) {
  AnteroomProcess server({"--trust-proxy"});
  constexpr int kBase = 2;
  server.MustPutQueue(
      "sale",
      {{"max_active", 0},
       {"pow",
        json::object{{"bits", kBase}, {"surge_per_s", 1}, {"window_s", 10}, {"max_bits", 20}}}});
  // 40 joins from 40 networks (each within its share) in one window: 4 joins/s > 1.
  for (int i = 0; i < 40; ++i) {
    Headers h{{"X-Forwarded-For", "10.3." + std::to_string(i) + ".1"}};
    HttpResponse got = GetChallenge(server, "sale", h);
    ASSERT_EQ(got.status, 200) << got;
    int bits = static_cast<int>(Int(got.Json(), "bits").value_or(-1));
    std::string c = Str(got.Json(), "challenge");
    ASSERT_EQ(server.Join("sale", PowJoinBody(c, PowSolve(c, bits)), h).status, 201);
  }
  HttpResponse fresh = GetChallenge(server, "sale", {{"X-Forwarded-For", "192.0.2.1"}});
  ASSERT_EQ(fresh.status, 200) << fresh;
  EXPECT_GE(Int(fresh.Json(), "bits").value_or(0), kBase + 2) << fresh;
}

}  // namespace
}  // namespace anteroom::testing
