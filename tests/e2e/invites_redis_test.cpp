// Invite codes over Redis (SPEC §8): one use is one use across every process. Three anteroom
// --redis processes share one redis-server; joins with the same code race from all three at once
// and exactly as many get in as the code has uses. A skip-the-line code minted on one process
// and used on another moves the line on a third process's streams.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/distributed.hpp"
#include "support/invites.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

class InvitesRedis : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i)
      nodes_.push_back(std::make_unique<AnteroomProcess>(std::vector<std::string>{
          "--redis", redis_.url(), "--node-id", std::string(1, static_cast<char>('a' + i)),
          "--max-conns-per-ip", "0"}));
  }

  void TearDown() override {
    std::vector<AnteroomProcess*> all;
    for (auto& n : nodes_) all.push_back(n.get());
    StopAndCheck(all);
  }

  // Mints one code like `spec` on node `n`; "" and a recorded failure if refused.
  std::string MintOne(int n, std::string_view queue, const json::object& spec) {
    SCOPED_TRACE("node " + std::to_string(n));
    return MustMintOne(*nodes_[n], queue, spec);
  }

  // The invite `code` as node `n` lists it (null and a recorded failure if absent).
  json::value Listed(int n, std::string_view queue, std::string_view code) {
    SCOPED_TRACE("node " + std::to_string(n));
    return ListedInvite(*nodes_[n], queue, code);
  }

  // `per_node` joins with `code` through each node, all released at once; every answer.
  std::vector<HttpResponse> RaceJoins(std::string_view queue, std::string_view code, int per_node) {
    const int total = per_node * static_cast<int>(nodes_.size());
    std::vector<HttpResponse> out(total);
    std::latch start(total);
    std::vector<std::thread> threads;
    for (int k = 0; k < total; ++k) {
      threads.emplace_back([&, k] {
        const AnteroomProcess& node = *nodes_[k % nodes_.size()];
        start.arrive_and_wait();
        out[k] = node.Join(queue, json::object{{"invite", code}});
      });
    }
    for (auto& t : threads) t.join();
    return out;
  }

  RedisServer redis_;
  std::vector<std::unique_ptr<AnteroomProcess>> nodes_;
};

// Many rounds of 24 joins (8 per process) racing for one single-use code: each round exactly one
// 201, the rest 403 invite_used_up; every process then lists the code as used once. A code of 5
// uses lets exactly 5 of 30 racing joins in.
TEST_F(InvitesRedis, ConcurrentUseOfASingleUseCodeFrom3ProcessesAdmittedExactlyOnce) {
  nodes_[0]->MustPutQueue("presale", {{"invite_only", true}, {"max_active", 0}});
  constexpr int kRounds = 10;
  constexpr int kPerNode = 8;
  for (int round = 0; round < kRounds; ++round) {
    std::string code = MintOne(round % 3, "presale", {});
    ASSERT_FALSE(code.empty());
    int in = 0;
    for (const HttpResponse& r : RaceJoins("presale", code, kPerNode)) {
      if (r.status == 201) {
        ++in;
        continue;
      }
      EXPECT_EQ(r.status, 403) << "round " << round << ": " << r;
      EXPECT_EQ(r.ErrorCode(), "invite_used_up") << "round " << round << ": " << r;
    }
    EXPECT_EQ(in, 1) << "round " << round << ": a single-use code let " << in << " in";
    for (int n = 0; n < 3; ++n) {
      json::value inv = Listed(n, "presale", code);
      EXPECT_EQ(Int(inv, "used"), 1) << "node " << n << ": " << json::serialize(inv);
      EXPECT_EQ(Int(inv, "uses_left"), 0) << "node " << n << ": " << json::serialize(inv);
    }
  }
  EXPECT_EQ(IntAt(nodes_[2]->MustStats("presale"), {"waiting"}), kRounds);

  std::string five = MintOne(1, "presale", {{"uses", 5}});
  ASSERT_FALSE(five.empty());
  int in = 0;
  for (const HttpResponse& r : RaceJoins("presale", five, 10)) {
    if (r.status == 201)
      ++in;
    else
      EXPECT_EQ(r.ErrorCode(), "invite_used_up") << r;
  }
  EXPECT_EQ(in, 5);
  EXPECT_EQ(Int(Listed(0, "presale", five), "used"), 5);
  EXPECT_EQ(IntAt(nodes_[0]->MustStats("presale"), {"waiting"}), kRounds + 5);
}

// A skip code minted on process 1 and used on process 2: the skipper is first in line on every
// process, a line visitor's stream on process 3 moves back by one, and once a slot opens the
// skipper is admitted before the line.
TEST_F(InvitesRedis, SkipCodeFromOneProcessUsedOnAnotherMovesTheLineOnAThird) {
  nodes_[0]->MustPutQueue("vip", {{"max_active", 0}, {"admit_per_s", 100}});
  std::vector<std::string> line;
  for (int i = 0; i < 3; ++i) {
    line.push_back(nodes_[i]->MustJoin("vip"));
    ASSERT_FALSE(line.back().empty());
  }
  auto watched = nodes_[2]->Events("vip", line[1]);
  ASSERT_EQ(watched->status(), 200) << watched->error_body();
  ASSERT_TRUE(WaitForPosition(*watched, 2)) << watched->raw();

  std::string code = MintOne(0, "vip", {{"skip", true}});
  ASSERT_FALSE(code.empty());
  HttpResponse r = nodes_[1]->Join("vip", json::object{{"invite", code}});
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_EQ(Int(r.Json(), "position"), 1) << r;
  EXPECT_EQ(Bool(r.Json(), "skip"), true) << r;
  std::string skipper = Str(r.Json(), "ticket");

  EXPECT_TRUE(WaitForPosition(*watched, 3)) << "process 3's stream: " << watched->raw();
  for (int n = 0; n < 3; ++n) {
    HttpResponse got = nodes_[n]->GetTicket("vip", skipper);
    EXPECT_EQ(Int(got.Json(), "position"), 1) << "node " << n << ": " << got;
    EXPECT_EQ(Bool(got.Json(), "skip"), true) << "node " << n << ": " << got;
    HttpResponse first = nodes_[n]->GetTicket("vip", line[0]);
    EXPECT_EQ(Int(first.Json(), "position"), 2) << "node " << n << ": " << first;
  }
  EXPECT_EQ(Int(Listed(2, "vip", code), "used"), 1);

  // One slot: the skipper takes it (seen on process 3), the line waits.
  auto skip_stream = nodes_[2]->Events("vip", skipper);
  ASSERT_TRUE(WaitForPosition(*skip_stream, 1)) << skip_stream->raw();
  nodes_[0]->MustPutQueue("vip", {{"max_active", 1}});
  ASSERT_TRUE(skip_stream->WaitFor("admitted")) << skip_stream->raw();
  EXPECT_TRUE(WaitForPosition(*watched, 2)) << watched->raw();
  HttpResponse head = nodes_[1]->GetTicket("vip", line[0]);
  EXPECT_EQ(Str(head.Json(), "status"), "waiting") << head;
  EXPECT_EQ(IntAt(nodes_[0]->MustStats("vip"), {"active"}), 1);
}

}  // namespace
}  // namespace anteroom::testing
