// Admission: tokens on the stream, verification, completion, expiry, abandonment, pausing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/jwt.hpp"
#include "support/webhook_receiver.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

constexpr const char* kTarget = "https://shop.example/checkout";

// Three visitors waiting in a queue that admits nobody yet, each with an open stream that has
// shown its initial position.
class AdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.MustPutQueue("shop", {{"max_active", 0}, {"target_url", kTarget}});
    for (int i = 0; i < 3; ++i) {
      tickets_.push_back(server_.MustJoin("shop"));
      ASSERT_FALSE(tickets_.back().empty());
    }
    for (int i = 0; i < 3; ++i) {
      streams_.push_back(server_.Events("shop", tickets_[i]));
      ASSERT_EQ(streams_[i]->status(), 200) << streams_[i]->error_body();
      ASSERT_TRUE(WaitForPosition(*streams_[i], i + 1)) << streams_[i]->raw();
    }
  }

  // Opens the gate for one visitor at a time.
  void AdmitOneAtATime() {
    server_.MustPutQueue("shop", {{"max_active", 1}, {"admit_per_s", 100}});
  }

  // Waits for `admitted` on visitor i's stream and checks its payload; returns the token.
  std::string ExpectAdmitted(int i) {
    auto e = streams_[i]->WaitFor("admitted");
    if (!e) {
      ADD_FAILURE() << "visitor " << i + 1 << " never admitted; stream: " << streams_[i]->raw();
      return "";
    }
    json::value data = e->Json();
    std::string token = Str(data, "token");
    EXPECT_FALSE(token.empty()) << e->Describe();
    EXPECT_GE(EventSeq(*e), 0);
    auto expires_at = Int(data, "expires_at");
    EXPECT_TRUE(expires_at.has_value()) << e->Describe();
    if (expires_at) {
      EXPECT_GT(*expires_at, UnixNow()) << e->Describe();
    }
    EXPECT_EQ(Str(data, "redirect"), std::string(kTarget) + "?anteroom_token=" + token)
        << e->Describe();
    return token;
  }

  AnteroomProcess server_;
  std::vector<std::string> tickets_;
  std::vector<std::unique_ptr<SseClient>> streams_;
};

TEST_F(AdmissionTest, HeadIsAdmittedWithTokenAndTheNextMovesUp) {
  AdmitOneAtATime();
  std::string token = ExpectAdmitted(0);
  ASSERT_FALSE(token.empty());
  EXPECT_TRUE(WaitForPosition(*streams_[1], 1)) << streams_[1]->raw();
  EXPECT_TRUE(WaitForPosition(*streams_[2], 2)) << streams_[2]->raw();

  HttpResponse status = server_.GetTicket("shop", tickets_[0]);
  ASSERT_EQ(status.status, 200) << status;
  EXPECT_EQ(Str(status.Json(), "status"), "active") << status;
  EXPECT_EQ(Str(status.Json(), "token"), token) << status;
  EXPECT_EQ(Str(status.Json(), "redirect"), std::string(kTarget) + "?anteroom_token=" + token);

  // A protected site can check the token offline with the shared secret.
  EXPECT_TRUE(VerifyJwtSignature(token, kTokenSecret)) << token;
  auto jwt = DecodeJwt(token);
  ASSERT_TRUE(jwt) << token;
  EXPECT_EQ(Str(jwt->claims, "queue"), "shop") << json::serialize(jwt->claims);
  EXPECT_EQ(Str(jwt->claims, "ticket"), tickets_[0]) << json::serialize(jwt->claims);
  EXPECT_EQ(Int(jwt->claims, "exp"), Int(status.Json(), "expires_at"))
      << json::serialize(jwt->claims);
  long long ttl = Int(jwt->claims, "exp").value_or(0) - UnixNow();
  EXPECT_NEAR(ttl, 600, 5) << "expiry should be session_ttl_s (default 600) from now";

  for (const HttpResponse& r :
       {server_.Verify(token), server_.Verify(token, "queue=shop"),
        server_.Verify("", "", {{"Cookie", "anteroom_token=" + token}}),
        server_.Verify("", "", {{"Cookie", "theme=dark; anteroom_token=" + token + "; x=1"}})}) {
    EXPECT_EQ(r.status, 204) << r;
    EXPECT_EQ(r.Header("X-Anteroom-Queue"), "shop") << r;
    EXPECT_EQ(r.Header("X-Anteroom-Ticket"), tickets_[0]) << r;
  }

  json::value stats = server_.MustStats("shop");
  EXPECT_EQ(IntAt(stats, {"active"}), 1);
  EXPECT_EQ(IntAt(stats, {"waiting"}), 2);
  EXPECT_EQ(IntAt(stats, {"admitted_total"}), 1);
}

TEST_F(AdmissionTest, CompletingFreesTheSlotForTheNext) {
  AdmitOneAtATime();
  std::string first = ExpectAdmitted(0);
  ASSERT_FALSE(first.empty());

  HttpResponse waiting = server_.Complete("shop", tickets_[2]);
  EXPECT_EQ(waiting.status, 400) << "completing a waiting ticket: " << waiting;
  EXPECT_FALSE(waiting.ErrorCode().empty()) << waiting;

  HttpResponse done = server_.Complete("shop", tickets_[0]);
  ASSERT_EQ(done.status, 200) << done;
  EXPECT_EQ(Str(done.Json(), "status"), "ended") << done;
  EXPECT_EQ(Str(done.Json(), "reason"), "completed") << done;
  auto ended = streams_[0]->WaitFor("ended");
  ASSERT_TRUE(ended) << streams_[0]->raw();
  EXPECT_EQ(Str(ended->Json(), "reason"), "completed") << ended->Describe();

  std::string second = ExpectAdmitted(1);
  ASSERT_FALSE(second.empty());
  EXPECT_TRUE(WaitForPosition(*streams_[2], 1)) << streams_[2]->raw();

  HttpResponse old = server_.Verify(first);
  EXPECT_EQ(old.status, 401) << "token of a completed session: " << old;
  EXPECT_EQ(old.ErrorCode(), "invalid_token") << old;
  EXPECT_EQ(server_.Verify(second).status, 204);
  EXPECT_EQ(IntAt(server_.MustStats("shop"), {"completed_total"}), 1);
}

TEST_F(AdmissionTest, LeavingAnActiveSessionFreesTheSlot) {
  AdmitOneAtATime();
  std::string first = ExpectAdmitted(0);
  ASSERT_FALSE(first.empty());
  HttpResponse left = server_.Leave("shop", tickets_[0]);
  ASSERT_EQ(left.status, 200) << left;
  EXPECT_EQ(Str(left.Json(), "reason"), "left") << left;
  EXPECT_FALSE(ExpectAdmitted(1).empty());
  EXPECT_EQ(server_.Verify(first).status, 401);
}

TEST_F(AdmissionTest, ReconnectingAfterAdmissionGetsTheSameTokenAtOnce) {
  AdmitOneAtATime();
  std::string token = ExpectAdmitted(0);
  ASSERT_FALSE(token.empty());
  std::string last_id = streams_[0]->last_event_id();
  streams_[0]->Close();
  for (const auto& last_event_id :
       {std::optional<std::string>(last_id), std::optional<std::string>()}) {
    auto again = server_.Events("shop", tickets_[0], last_event_id);
    auto first = again->Next();
    ASSERT_TRUE(first) << again->raw();
    EXPECT_EQ(first->event, "admitted") << first->Describe();
    EXPECT_EQ(Str(first->Json(), "token"), token) << first->Describe();
    EXPECT_EQ(Str(first->Json(), "redirect"), std::string(kTarget) + "?anteroom_token=" + token);
  }
}

TEST_F(AdmissionTest, EveryOpenTabOfAVisitorIsAdmitted) {
  auto second_tab = server_.Events("shop", tickets_[0]);
  ASSERT_TRUE(WaitForPosition(*second_tab, 1)) << second_tab->raw();
  AdmitOneAtATime();
  std::string token = ExpectAdmitted(0);
  auto e = second_tab->WaitFor("admitted");
  ASSERT_TRUE(e) << "second tab not admitted: " << second_tab->raw();
  EXPECT_EQ(Str(e->Json(), "token"), token) << e->Describe();
}

TEST_F(AdmissionTest, ClosingTheQueueEndsWaitersButKeepsActiveSessions) {
  AdmitOneAtATime();
  std::string token = ExpectAdmitted(0);
  ASSERT_EQ(server_.DeleteQueue("shop").status, 200);
  for (int i : {1, 2}) {
    auto ended = streams_[i]->WaitFor("ended");
    ASSERT_TRUE(ended) << streams_[i]->raw();
    EXPECT_EQ(Str(ended->Json(), "reason"), "closed") << ended->Describe();
  }
  EXPECT_EQ(server_.Verify(token).status, 204);
  HttpResponse active = server_.GetTicket("shop", tickets_[0]);
  EXPECT_EQ(Str(active.Json(), "status"), "active") << active;
}

// The third visitor must wait while two sessions are active. A second queue admitting two
// visitors one after the other serves as a clock proving admission ticks ran meanwhile.
TEST_F(AdmissionTest, NeverMoreActiveThanMaxActive) {
  server_.MustPutQueue("shop", {{"max_active", 2}, {"admit_per_s", 100}});
  std::string first = ExpectAdmitted(0);
  ExpectAdmitted(1);
  server_.MustPutQueue("clock", {{"max_active", 10}, {"admit_per_s", 100}});
  for (int i = 0; i < 2; ++i) {
    auto tick = server_.Events("clock", server_.MustJoin("clock"));
    ASSERT_TRUE(tick->WaitFor("admitted")) << tick->raw();
  }
  HttpResponse third = server_.GetTicket("shop", tickets_[2]);
  EXPECT_EQ(Str(third.Json(), "status"), "waiting") << "max_active 2 exceeded: " << third;
  EXPECT_EQ(Int(third.Json(), "position"), 1) << third;
  EXPECT_EQ(IntAt(server_.MustStats("shop"), {"active"}), 2);

  ASSERT_EQ(server_.Complete("shop", tickets_[0]).status, 200);
  EXPECT_FALSE(ExpectAdmitted(2).empty());
  EXPECT_EQ(IntAt(server_.MustStats("shop"), {"active"}), 2);
}

// The rate is checked on the server's own clock: each admission's webhook carries `at_ms`, the
// time the admitting tick used for its token bucket. The bucket holds one second's worth (5 at
// 5/s) and refills at the rate, so over any stretch of admissions the count is at most 5 plus
// the rate times the time they span (a limiter at twice the rate, or one letting everybody in at
// once, breaks that), and the line of 15 is through in 2 s, plus up to 1.5 s for late ticks on
// a loaded machine (a limiter at half the rate takes over 5 s).
TEST(Admission, AdmitsAtTheConfiguredRateInJoinOrder) {
  WebhookReceiver receiver;
  AnteroomProcess server({"--webhook-allow-private"});
  constexpr int kVisitors = 15;
  constexpr double kRate = 5;
  constexpr double kBurst = kRate;  // one second's worth
  server.MustPutQueue("line", {{"max_active", 0},
                               {"admit_per_s", kRate},
                               {"webhooks", json::array{json::string(receiver.url())}}});
  std::vector<std::string> tickets;
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < kVisitors; ++i) {
    tickets.push_back(server.MustJoin("line"));
    streams.push_back(server.Events("line", tickets.back()));
    ASSERT_TRUE(WaitForPosition(*streams.back(), i + 1)) << streams.back()->raw();
  }
  const auto opened = Clock::now();
  server.MustPutQueue("line", {{"max_active", 100}});
  long long previous_seq = -1;
  for (int i = 0; i < kVisitors; ++i) {
    auto e = streams[i]->WaitFor("admitted");
    ASSERT_TRUE(e) << "visitor " << i + 1 << " not admitted: " << streams[i]->raw();
    long long seq = EventSeq(*e);
    EXPECT_GT(seq, previous_seq) << "admitted out of join order at visitor " << i + 1;
    previous_seq = seq;
  }
  // 15 visitors at 5/s take 2 s after a starting burst of 5 (one second's worth).
  auto elapsed = Clock::now() - opened;
  EXPECT_GE(elapsed, std::chrono::milliseconds(800))
      << kVisitors << " admissions at " << kRate << "/s took only "
      << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
  json::value stats = server.MustStats("line");
  EXPECT_EQ(IntAt(stats, {"admitted_total"}), kVisitors);
  EXPECT_GT(Num(stats, "admit_rate").value_or(0), 0) << json::serialize(stats);

  // When each admission happened, by the server's clock, in join order.
  ASSERT_TRUE(PollUntil([&] { return receiver.count() >= kVisitors; }, DeadlineIn(kPatience)))
      << receiver.count() << " admission webhooks of " << kVisitors;
  std::map<std::string, long long> at_ms;
  for (const ReceivedHook& h : receiver.received()) {
    json::value body = json::parse(h.body);
    EXPECT_EQ(Str(body, "type"), "admitted") << h.body;
    at_ms[Str(body, "ticket")] = Int(body, "at_ms").value_or(-1);
  }
  std::vector<long long> at;
  std::string times;
  for (const std::string& t : tickets) {
    ASSERT_EQ(at_ms.count(t), 1u) << "no admission webhook for " << t;
    at.push_back(at_ms[t]);
    times += std::to_string(at.back() - at.front()) + " ";
  }
  for (std::size_t i = 1; i < at.size(); ++i)
    EXPECT_GE(at[i], at[i - 1]) << "admitted out of join order; ms after the first: " << times;
  // At most the burst plus the refill over every stretch of consecutive admissions (the one
  // that exceeds it most is reported).
  double worst_excess = 0;
  std::string worst;
  for (std::size_t i = 0; i < at.size(); ++i) {
    for (std::size_t j = i; j < at.size(); ++j) {
      double allowed = kBurst + kRate * static_cast<double>(at[j] - at[i]) / 1000.0;
      double excess = static_cast<double>(j - i + 1) - allowed;
      if (excess > worst_excess + 1e-6) {
        worst_excess = excess;
        worst = "admissions " + std::to_string(i + 1) + ".." + std::to_string(j + 1) + " within " +
                std::to_string(at[j] - at[i]) + " ms";
      }
    }
  }
  EXPECT_EQ(worst, "") << "faster than " << kRate << "/s (with a burst of " << kBurst
                       << "); ms after the first: " << times;
  // And not slower: the last is in after (15 - 5) / 5 s, give or take a late tick.
  const long long expected_span_ms = static_cast<long long>((kVisitors - kBurst) / kRate * 1000);
  EXPECT_LE(at.back() - at.front(), expected_span_ms + 1500)
      << "slower than " << kRate << "/s; ms after the first: " << times;
  EXPECT_GE(at.back() - at.front(), expected_span_ms - 1) << times;
}

TEST(Admission, RedirectCarriesTheTokenAsAQueryParameter) {
  AnteroomProcess server;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://shop.example/buy?item=7", "https://shop.example/buy?item=7&anteroom_token="},
      {"/checkout", "/checkout?anteroom_token="},
  };
  // A fragment stays last: the query parameter goes before it.
  const std::pair<std::string, std::string> fragment = {"https://shop.example/buy#seats",
                                                        "https://shop.example/buy?anteroom_token="};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::string q = "q" + std::to_string(i);
    server.MustPutQueue(q,
                        {{"max_active", 10}, {"admit_per_s", 100}, {"target_url", cases[i].first}});
    auto stream = server.Events(q, server.MustJoin(q));
    auto e = stream->WaitFor("admitted");
    ASSERT_TRUE(e) << stream->raw();
    std::string token = Str(e->Json(), "token");
    EXPECT_EQ(Str(e->Json(), "redirect"), cases[i].second + token) << e->Describe();
  }
  server.MustPutQueue("fragment",
                      {{"max_active", 10}, {"admit_per_s", 100}, {"target_url", fragment.first}});
  {
    auto stream = server.Events("fragment", server.MustJoin("fragment"));
    auto e = stream->WaitFor("admitted");
    ASSERT_TRUE(e) << stream->raw();
    EXPECT_EQ(Str(e->Json(), "redirect"), fragment.second + Str(e->Json(), "token") + "#seats")
        << e->Describe();
  }
  server.MustPutQueue("no-target", {{"max_active", 10}, {"admit_per_s", 100}});
  auto stream = server.Events("no-target", server.MustJoin("no-target"));
  auto e = stream->WaitFor("admitted");
  ASSERT_TRUE(e) << stream->raw();
  EXPECT_EQ(Str(e->Json(), "redirect"), "") << e->Describe();
}

TEST(Admission, RejoiningWhileActiveReturnsTheSession) {
  AnteroomProcess server;
  server.MustPutQueue("shop", {{"max_active", 10}, {"admit_per_s", 100}});
  std::string t = server.MustJoin("shop", json::object{{"user", "alice"}});
  auto stream = server.Events("shop", t);
  auto admitted = stream->WaitFor("admitted");
  ASSERT_TRUE(admitted) << stream->raw();
  HttpResponse again = server.Join("shop", json::object{{"user", "alice"}});
  EXPECT_EQ(again.status, 200) << again;
  EXPECT_EQ(Str(again.Json(), "ticket"), t) << again;
  EXPECT_EQ(Str(again.Json(), "status"), "active") << again;
  EXPECT_EQ(Str(again.Json(), "token"), Str(admitted->Json(), "token")) << again;
  EXPECT_EQ(IntAt(server.MustStats("shop"), {"admitted_total"}), 1);
}

// docs/api.md: "If the line was empty and the queue had room, `status` is "active"".
TEST(Admission, JoiningAnEmptyQueueWithRoomIsAdmittedAtOnce) {
  AnteroomProcess server;
  server.MustPutQueue("open", {{"max_active", 10}, {"admit_per_s", 100}, {"target_url", kTarget}});
  HttpResponse join = server.Join("open");
  ASSERT_EQ(join.status, 201) << join;
  json::value v = join.Json();
  EXPECT_EQ(Str(v, "status"), "active") << join;
  std::string token = Str(v, "token");
  ASSERT_FALSE(token.empty()) << join;
  EXPECT_GT(Int(v, "expires_at").value_or(0), UnixNow()) << join;
  EXPECT_EQ(Str(v, "redirect"), std::string(kTarget) + "?anteroom_token=" + token) << join;
  EXPECT_EQ(server.Verify(token).status, 204);
  // The stream of an already admitted visitor starts with its admission.
  auto stream = server.Events("open", Str(v, "ticket"));
  auto first = stream->Next();
  ASSERT_TRUE(first) << stream->raw();
  EXPECT_EQ(first->event, "admitted") << first->Describe();
  EXPECT_EQ(Str(first->Json(), "token"), token) << first->Describe();
}

TEST(Admission, SessionExpiresAfterTtl) {
  AnteroomProcess server;
  server.MustPutQueue("shop", {{"max_active", 0}, {"session_ttl_s", 1}});
  std::string t = server.MustJoin("shop");
  auto stream = server.Events("shop", t);
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();
  server.MustPutQueue("shop", {{"max_active", 1}, {"admit_per_s", 100}});
  auto admitted = stream->WaitFor("admitted");
  ASSERT_TRUE(admitted) << stream->raw();
  std::string token = Str(admitted->Json(), "token");
  EXPECT_EQ(server.Verify(token).status, 204);

  auto ended = stream->WaitFor("ended");
  ASSERT_TRUE(ended) << "session never expired; stream: " << stream->raw();
  EXPECT_EQ(Str(ended->Json(), "reason"), "expired") << ended->Describe();
  EXPECT_GT(EventSeq(*ended), EventSeq(*admitted));
  EXPECT_TRUE(stream->WaitClosed());

  HttpResponse verify = server.Verify(token);
  EXPECT_EQ(verify.status, 401) << "token of an expired session: " << verify;
  EXPECT_EQ(verify.ErrorCode(), "invalid_token") << verify;
  HttpResponse status = server.GetTicket("shop", t);
  EXPECT_EQ(Str(status.Json(), "status"), "ended") << status;
  EXPECT_EQ(Str(status.Json(), "reason"), "expired") << status;
  json::value stats = server.MustStats("shop");
  EXPECT_EQ(IntAt(stats, {"active"}), 0);
  EXPECT_EQ(IntAt(stats, {"expired_total"}), 1);
}

TEST(Admission, AbandonedTicketIsDroppedAndOthersMoveUp) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}, {"abandon_after_s", 1}});
  std::string gone = server.MustJoin("line");  // never polls, never opens a stream
  std::string here = server.MustJoin("line");
  auto stream = server.Events("line", here);
  ASSERT_TRUE(WaitForPosition(*stream, 2)) << stream->raw();

  auto moved = WaitForPosition(*stream, 1);
  ASSERT_TRUE(moved) << "the visitor behind an abandoned ticket never moved up: " << stream->raw();
  HttpResponse status = server.GetTicket("line", gone);
  EXPECT_EQ(status.status, 200) << status;
  EXPECT_EQ(Str(status.Json(), "status"), "ended") << status;
  EXPECT_EQ(Str(status.Json(), "reason"), "abandoned") << status;
  json::value stats = server.MustStats("line");
  EXPECT_EQ(IntAt(stats, {"abandoned_total"}), 1);
  EXPECT_EQ(IntAt(stats, {"waiting"}), 1);

  // A later silent ticket is abandoned too, while the visitor with the open stream (by then in
  // line for longer than abandon_after_s twice over) stays. Stats polls do not count as "seen".
  std::string probe = server.MustJoin("line");
  ASSERT_TRUE(PollUntil([&] { return IntAt(server.MustStats("line"), {"abandoned_total"}) == 2; },
                        DeadlineIn(kPatience), std::chrono::milliseconds(50)))
      << "a silent ticket was never abandoned";
  HttpResponse mine = server.GetTicket("line", here);
  EXPECT_EQ(Str(mine.Json(), "status"), "waiting") << "a watched ticket was dropped: " << mine;
  EXPECT_EQ(Int(mine.Json(), "position"), 1) << mine;
}

TEST(Admission, ClosingTheStreamEndsTheProtectionFromAbandonment) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}, {"abandon_after_s", 1}});
  std::string t = server.MustJoin("line");
  auto stream = server.Events("line", t);
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();
  stream->Close();
  ASSERT_TRUE(PollUntil([&] { return IntAt(server.MustStats("line"), {"abandoned_total"}) == 1; },
                        DeadlineIn(kPatience), std::chrono::milliseconds(50)))
      << "a ticket whose stream closed was never abandoned";
  HttpResponse status = server.GetTicket("line", t);
  EXPECT_EQ(Str(status.Json(), "reason"), "abandoned") << status;
}

// A paused queue admits nobody. To prove the negative without sleeping, an unpaused queue with
// the same admission settings serves as a clock: each of its admissions shows that admission
// ticks ran while the paused queue's head was eligible.
TEST(Admission, PausedQueueAdmitsNobodyUntilResumed) {
  AnteroomProcess server;
  const json::object closed_gate{{"max_active", 0}, {"admit_per_s", 100}};
  server.MustPutQueue("a-paused", closed_gate);
  server.MustPutQueue("b-clock", closed_gate);
  std::string held = server.MustJoin("a-paused");
  std::string tick1 = server.MustJoin("b-clock");
  auto held_stream = server.Events("a-paused", held);
  auto clock_stream = server.Events("b-clock", tick1);
  ASSERT_TRUE(WaitForPosition(*held_stream, 1)) << held_stream->raw();
  ASSERT_TRUE(WaitForPosition(*clock_stream, 1)) << clock_stream->raw();

  server.MustPutQueue("a-paused", {{"max_active", 10}, {"paused", true}});
  server.MustPutQueue("b-clock", {{"max_active", 10}});
  ASSERT_TRUE(clock_stream->WaitFor("admitted")) << clock_stream->raw();
  // A second clock admission, joined after the first, guarantees a full tick has passed.
  std::string tick2 = server.MustJoin("b-clock");
  auto clock2 = server.Events("b-clock", tick2);
  ASSERT_TRUE(clock2->WaitFor("admitted")) << clock2->raw();

  HttpResponse status = server.GetTicket("a-paused", held);
  EXPECT_EQ(Str(status.Json(), "status"), "waiting") << "paused queue admitted: " << status;
  EXPECT_EQ(Int(status.Json(), "position"), 1) << status;
  EXPECT_EQ(Bool(status.Json(), "paused"), true) << status;
  EXPECT_EQ(Int(status.Json(), "eta_s"), -1) << status;
  EXPECT_EQ(IntAt(server.MustStats("a-paused"), {"admitted_total"}), 0);
  for (const SseEvent& e : held_stream->history()) {
    EXPECT_NE(e.event, "admitted") << "paused queue admitted: " << e.Describe();
  }

  server.MustPutQueue("a-paused", {{"paused", false}});
  auto admitted = held_stream->WaitFor("admitted");
  ASSERT_TRUE(admitted) << "not admitted after resuming; stream: " << held_stream->raw();
  EXPECT_FALSE(Str(admitted->Json(), "token").empty()) << admitted->Describe();
}

}  // namespace
}  // namespace anteroom::testing
