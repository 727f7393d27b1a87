// Joining a queue: positions, ticket ids, idempotent re-joins, unknown and closed queues.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

TEST(Join, PositionsCountUpFromOneWithDistinctTicketIds) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  static const std::regex kTicketId("^[A-Za-z0-9_-]{22}$");
  std::set<std::string> ids;
  std::vector<std::string> order;
  for (int i = 1; i <= 20; ++i) {
    HttpResponse r = server.Join("line");
    ASSERT_EQ(r.status, 201) << r;
    EXPECT_EQ(r.Header("Content-Type").rfind("application/json", 0), 0u) << r;
    json::value v = r.Json();
    std::string id = Str(v, "ticket");
    EXPECT_TRUE(std::regex_match(id, kTicketId)) << "ticket id '" << id << "' in " << r;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate ticket id " << id;
    EXPECT_EQ(Str(v, "queue"), "line") << r;
    EXPECT_EQ(Str(v, "status"), "waiting") << r;
    EXPECT_EQ(Int(v, "position"), i) << r;
    EXPECT_TRUE(Num(v, "eta_s").has_value()) << r;
    EXPECT_EQ(Str(v, "events_url"), "/v1/queues/line/tickets/" + id + "/events") << r;
    order.push_back(id);
  }
  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 20);
  // Status polls agree with the join responses.
  for (int i : {1, 7, 20}) {
    HttpResponse r = server.GetTicket("line", order[i - 1]);
    ASSERT_EQ(r.status, 200) << r;
    EXPECT_EQ(Str(r.Json(), "status"), "waiting") << r;
    EXPECT_EQ(Int(r.Json(), "position"), i) << r;
    EXPECT_EQ(Str(r.Json(), "ticket"), order[i - 1]) << r;
  }
}

TEST(Join, RejoinWithSameUserReturnsSameTicketAndPlace) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  HttpResponse alice = server.Join("line", json::object{{"user", "alice"}});
  ASSERT_EQ(alice.status, 201) << alice;
  HttpResponse bob = server.Join("line", json::object{{"user", "bob"}});
  ASSERT_EQ(bob.status, 201) << bob;
  EXPECT_EQ(Int(bob.Json(), "position"), 2) << bob;

  HttpResponse again = server.Join("line", json::object{{"user", "alice"}});
  EXPECT_EQ(again.status, 200) << again;
  EXPECT_EQ(Str(again.Json(), "ticket"), Str(alice.Json(), "ticket")) << again;
  EXPECT_EQ(Int(again.Json(), "position"), 1) << again;
  EXPECT_EQ(Str(again.Json(), "status"), "waiting") << again;

  HttpResponse bob_again = server.Join("line", json::object{{"user", "bob"}});
  EXPECT_EQ(bob_again.status, 200) << bob_again;
  EXPECT_EQ(Str(bob_again.Json(), "ticket"), Str(bob.Json(), "ticket")) << bob_again;
  EXPECT_EQ(Int(bob_again.Json(), "position"), 2) << bob_again;

  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 2);
  HttpResponse carol = server.Join("line", json::object{{"user", "carol"}});
  ASSERT_EQ(carol.status, 201) << carol;
  EXPECT_EQ(Int(carol.Json(), "position"), 3) << carol;
}

TEST(Join, RejoinWithSameIdempotencyKeyReturnsSameTicketAndPlace) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  HttpResponse first = server.Join("line", std::nullopt, {{"Idempotency-Key", "key-1"}});
  ASSERT_EQ(first.status, 201) << first;
  HttpResponse other = server.Join("line", std::nullopt, {{"Idempotency-Key", "key-2"}});
  ASSERT_EQ(other.status, 201) << other;
  EXPECT_EQ(Int(other.Json(), "position"), 2) << other;

  HttpResponse again = server.Join("line", std::nullopt, {{"Idempotency-Key", "key-1"}});
  EXPECT_EQ(again.status, 200) << again;
  EXPECT_EQ(Str(again.Json(), "ticket"), Str(first.Json(), "ticket")) << again;
  EXPECT_EQ(Int(again.Json(), "position"), 1) << again;

  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 2);
  HttpResponse anonymous = server.Join("line");
  ASSERT_EQ(anonymous.status, 201) << anonymous;
  EXPECT_EQ(Int(anonymous.Json(), "position"), 3) << anonymous;
}

TEST(Join, RejoinAfterLeavingGetsANewTicketAtTheBack) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string alice = Str(server.Join("line", json::object{{"user", "alice"}}).Json(), "ticket");
  server.MustJoin("line", json::object{{"user", "bob"}});
  ASSERT_EQ(server.Leave("line", alice).status, 200);
  HttpResponse again = server.Join("line", json::object{{"user", "alice"}});
  EXPECT_EQ(again.status, 201) << again;
  EXPECT_NE(Str(again.Json(), "ticket"), alice) << again;
  EXPECT_EQ(Int(again.Json(), "position"), 2) << again;
}

TEST(Join, EmptyOrMinimalBodiesAreFine) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  HttpResponse empty_json =
      server.Request("POST", "/v1/queues/line/tickets", {{"Content-Type", "application/json"}});
  EXPECT_EQ(empty_json.status, 201) << "empty body with a JSON content type: " << empty_json;
  HttpResponse braces = server.Join("line", json::object{});
  EXPECT_EQ(braces.status, 201) << braces;
  EXPECT_EQ(Int(braces.Json(), "position"), 2) << braces;
}

TEST(Join, QueueNobodyCreatedIs404) {
  AnteroomProcess server;
  HttpResponse r = server.Join("nobody-made-this");
  EXPECT_EQ(r.status, 404) << r;
  EXPECT_EQ(r.ErrorCode(), "queue_not_found") << r;
  EXPECT_FALSE(Str(r.Json(), "message").empty()) << r;
}

TEST(Join, ClosedQueueEndsWaitingStreamsAndRefusesJoins) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string a = server.MustJoin("line");
  ASSERT_FALSE(a.empty());
  auto stream = server.Events("line", a);
  ASSERT_EQ(stream->status(), 200) << stream->error_body();
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();

  HttpResponse closed = server.DeleteQueue("line");
  EXPECT_EQ(closed.status, 200) << closed;
  EXPECT_EQ(Bool(closed.Json(), "closed"), true) << closed;

  auto ended = stream->WaitFor("ended");
  ASSERT_TRUE(ended) << "stream never got `ended`; received: " << stream->raw();
  EXPECT_EQ(Str(ended->Json(), "reason"), "closed") << ended->Describe();
  EXPECT_FALSE(ended->id.empty()) << ended->Describe();
  EXPECT_TRUE(stream->WaitClosed()) << "server kept the stream open after `ended`";

  HttpResponse join = server.Join("line");
  EXPECT_EQ(join.status, 410) << join;
  EXPECT_EQ(join.ErrorCode(), "queue_closed") << join;

  HttpResponse status = server.GetTicket("line", a);
  EXPECT_EQ(status.status, 200) << status;
  EXPECT_EQ(Str(status.Json(), "status"), "ended") << status;
  EXPECT_EQ(Str(status.Json(), "reason"), "closed") << status;
}

TEST(Join, ReopenedQueueStartsEmpty) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  ASSERT_FALSE(server.MustJoin("line").empty());
  ASSERT_FALSE(server.MustJoin("line").empty());
  ASSERT_EQ(server.DeleteQueue("line").status, 200);
  server.MustPutQueue("line", {{"max_active", 0}});
  HttpResponse r = server.Join("line");
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_EQ(Int(r.Json(), "position"), 1) << r;
  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 1);
}

TEST(Join, LeavingEndsTheTicket) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string a = server.MustJoin("line");
  std::string b = server.MustJoin("line");
  HttpResponse left = server.Leave("line", a);
  EXPECT_EQ(left.status, 200) << left;
  EXPECT_EQ(Str(left.Json(), "status"), "ended") << left;
  EXPECT_EQ(Str(left.Json(), "reason"), "left") << left;
  HttpResponse rb = server.GetTicket("line", b);
  EXPECT_EQ(Int(rb.Json(), "position"), 1) << rb;
  json::value stats = server.MustStats("line");
  EXPECT_EQ(IntAt(stats, {"waiting"}), 1);
  EXPECT_EQ(IntAt(stats, {"left_total"}), 1);
}

}  // namespace
}  // namespace anteroom::testing
