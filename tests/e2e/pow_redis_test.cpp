// Proof of work across a fleet (SPEC §8, docs/pow.md): two anteroom processes on one
// redis-server with the same --token-secret check each other's challenges, and a proof used on
// one is refused on the other (the single-use mark is in Redis, expiring with the challenge).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/distributed.hpp"
#include "support/pow_client.hpp"
#include "support/redis_conn.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

class PowRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* id : {"a", "b"})
      nodes_.push_back(std::make_unique<AnteroomProcess>(
          std::vector<std::string>{"--redis", redis_.url(), "--node-id", id}));
    a().MustPutQueue("sale",
                     {{"max_active", 0}, {"pow", json::object{{"bits", 12}, {"adaptive", false}}}});
  }
  void TearDown() override { StopAndCheck({nodes_[0].get(), nodes_[1].get()}); }
  AnteroomProcess& a() { return *nodes_[0]; }
  AnteroomProcess& b() { return *nodes_[1]; }

  std::string Challenge(AnteroomProcess& p) {
    HttpResponse r = GetChallenge(p, "sale");
    EXPECT_EQ(r.status, 200) << r;
    EXPECT_EQ(Int(r.Json(), "bits"), 12) << r;
    return Str(r.Json(), "challenge");
  }

  RedisServer redis_;
  std::vector<std::unique_ptr<AnteroomProcess>> nodes_;
};

TEST_F(PowRedis, ChallengesCrossProcessesAndAProofIsUsedOnceInTheFleet) {
  // Minted by b, joined on a.
  std::string c = Challenge(b());
  std::string n = PowSolve(c, 12);
  HttpResponse first = a().Join("sale", PowJoinBody(c, n, "erin"));
  ASSERT_EQ(first.status, 201) << first;

  // The mark is in Redis until the challenge's expiry (a member of the queue's zset aq:{q}:pow,
  // score the expiry in ms; the tick drops it after that: docs/pow.md).
  std::string id = c.substr(0, c.rfind('.'));
  id = id.substr(id.rfind('.') + 1);
  RedisConn redis(redis_.port());
  RespValue mark = redis.Command({"ZSCORE", "aq:{sale}:pow", id});
  ASSERT_EQ(mark.type, RespValue::Type::bulk) << mark.Describe();
  const long long now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const long long ttl = static_cast<long long>(std::stod(mark.str)) - now_ms;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 120'000);

  // Replayed to the other process: refused, with a fresh challenge from it.
  HttpResponse replay = b().Join("sale", PowJoinBody(c, n, "frank"));
  EXPECT_EQ(replay.status, 403) << replay;
  EXPECT_EQ(replay.ErrorCode(), "pow_used") << replay;
  EXPECT_EQ(Int(replay.Json(), "bits"), 12) << replay;
  json::value refusal = replay.Json();
  const json::value* fresh = Field(refusal, "challenge");
  ASSERT_TRUE(fresh) << replay;
  std::string offered = Str(*fresh, "challenge");
  ASSERT_FALSE(offered.empty()) << replay;
  // ... and to the first process again.
  HttpResponse again = a().Join("sale", PowJoinBody(c, n, "frank"));
  EXPECT_EQ(again.ErrorCode(), "pow_used") << again;
  // The same visitor's retry gets their ticket on either process (not a second use).
  HttpResponse retry = b().Join("sale", PowJoinBody(c, n, "erin"));
  EXPECT_EQ(retry.status, 200) << retry;
  EXPECT_EQ(Str(retry.Json(), "ticket"), Str(first.Json(), "ticket")) << retry;

  // The challenge b handed out in its refusal works on a.
  HttpResponse second = a().Join("sale", PowJoinBody(offered, PowSolve(offered, 12), "frank"));
  EXPECT_EQ(second.status, 201) << second;

  EXPECT_EQ(MetricValue(a(), "anteroom_pow_verified_total").value_or(-1) +
                MetricValue(b(), "anteroom_pow_verified_total").value_or(-1),
            2);
  EXPECT_EQ(IntAt(a().MustStats("sale"), {"waiting"}), 2);
}

// Both processes get the same proof at once, many times: exactly one join each time.
TEST_F(PowRedis, ConcurrentReplaysAdmitOnce) {
  for (int round = 0; round < 5; ++round) {
    std::string c = Challenge(round % 2 ? a() : b());
    std::string n = PowSolve(c, 12);
    HttpResponse ra, rb;
    std::thread ta([&] { ra = a().Join("sale", PowJoinBody(c, n, "x" + std::to_string(round))); });
    std::thread tb([&] { rb = b().Join("sale", PowJoinBody(c, n, "y" + std::to_string(round))); });
    ta.join();
    tb.join();
    EXPECT_EQ((ra.status == 201) + (rb.status == 201), 1) << ra << "\n" << rb;
    const HttpResponse& loser = ra.status == 201 ? rb : ra;
    EXPECT_EQ(loser.ErrorCode(), "pow_used") << loser;
  }
  EXPECT_EQ(IntAt(a().MustStats("sale"), {"waiting"}), 5);
}

}  // namespace
}  // namespace anteroom::testing
