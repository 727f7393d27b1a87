// Invite codes (SPEC §8, docs/invites.md), embedded mode: the operator mints, lists and revokes
// codes; an invite-only queue refuses joins without one; a code is refused once used up,
// revoked or expired; a skip-the-line code waits ahead of the whole line but never beyond
// max_active. The same over Redis from several processes: invites_redis_test.cpp.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/invites.hpp"
#include "support/jwt.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

HttpResponse JoinWith(const AnteroomProcess& server, std::string_view queue,
                      std::string_view code) {
  return server.Join(queue, json::object{{"invite", code}});
}

void ExpectRefused(const HttpResponse& r, int status, std::string_view code) {
  EXPECT_EQ(r.status, status) << r;
  EXPECT_EQ(r.ErrorCode(), code) << r;
  EXPECT_FALSE(Str(r.Json(), "message").empty()) << r;
}

// A minted code has the documented shape: 16 characters of Crockford's base32, the spec's uses,
// expiry, skip flag and label, nothing used, not revoked, created now.
TEST(Invites, MintShowsEveryFieldOfTheSpec) {
  AnteroomProcess server;
  server.MustPutQueue("presale", {});
  long long expires_at = UnixNow() + 3600;
  auto minted = MustMint(server, "presale",
                         {{"count", 3},
                          {"uses", 5},
                          {"expires_at", expires_at},
                          {"skip", true},
                          {"label", "members \"gold\""}});
  ASSERT_EQ(minted.size(), 3u);
  std::set<std::string> codes;
  for (const json::value& inv : minted) {
    std::string code = Str(inv, "code");
    EXPECT_EQ(code.size(), 16u) << json::serialize(inv);
    EXPECT_EQ(code.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos)
        << code;
    codes.insert(code);
    EXPECT_EQ(Int(inv, "uses"), 5);
    EXPECT_EQ(Int(inv, "used"), 0);
    EXPECT_EQ(Int(inv, "uses_left"), 5);
    EXPECT_EQ(Int(inv, "expires_at"), expires_at);
    EXPECT_EQ(Bool(inv, "skip"), true);
    EXPECT_EQ(Bool(inv, "revoked"), false);
    EXPECT_NEAR(static_cast<double>(Int(inv, "created_at").value_or(0)),
                static_cast<double>(UnixNow()), 5)
        << json::serialize(inv);
    EXPECT_EQ(Str(inv, "label"), "members \"gold\"");
  }
  EXPECT_EQ(codes.size(), 3u) << "codes must differ";

  // Defaults: one single-use code, no expiry, no skip, no label (an empty body too).
  for (const std::string& body : std::vector<std::string>{"", "{}"}) {
    HttpResponse r =
        server.Admin("POST", InvitesPath("presale"), body, {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 201) << r;
    json::value answer = r.Json();  // (kept: `list` points into it)
    const json::value* list = Field(answer, "invites");
    ASSERT_TRUE(list && list->is_array() && list->as_array().size() == 1) << r;
    const json::value& inv = list->as_array()[0];
    EXPECT_EQ(Int(inv, "uses"), 1) << r;
    EXPECT_EQ(Int(inv, "uses_left"), 1) << r;
    ASSERT_NE(Field(inv, "expires_at"), nullptr) << r;
    EXPECT_TRUE(Field(inv, "expires_at")->is_null()) << r;
    EXPECT_EQ(Bool(inv, "skip"), false) << r;
    EXPECT_EQ(Str(inv, "label"), "") << r;
  }
}

// An invite-only queue refuses a join without a code; a minted code lets its holder in, and the
// ticket's JSON says it does not skip the line.
TEST(Invites, InviteOnlyQueueNeedsACode) {
  AnteroomProcess server;
  server.MustPutQueue("members", {{"invite_only", true}, {"max_active", 0}});
  HttpResponse queue = server.GetQueue("members");
  EXPECT_EQ(Bool(queue.Json().at("config"), "invite_only"), true) << queue;

  ExpectRefused(server.Join("members"), 403, "invite_required");
  ExpectRefused(server.Join("members", json::object{{"user", "ann"}}), 403, "invite_required");
  EXPECT_EQ(IntAt(server.MustStats("members"), {"waiting"}), 0);

  std::string code = MustMintOne(server, "members");
  ASSERT_FALSE(code.empty());
  HttpResponse in = JoinWith(server, "members", code);
  ASSERT_EQ(in.status, 201) << in;
  EXPECT_EQ(Str(in.Json(), "status"), "waiting") << in;
  EXPECT_EQ(Int(in.Json(), "position"), 1) << in;
  EXPECT_EQ(Bool(in.Json(), "skip"), false) << in;
  HttpResponse got = server.GetTicket("members", Str(in.Json(), "ticket"));
  EXPECT_EQ(Bool(got.Json(), "skip"), false) << got;

  // Turned off, the queue takes joins without a code again.
  server.MustPutQueue("members", {{"invite_only", false}});
  EXPECT_EQ(server.Join("members").status, 201);
}

// A code as a person types it: lower case and dashes are accepted; malformed or unknown codes
// are refused (in an open queue too: a bad code is refused, not ignored), as is another queue's.
TEST(Invites, InvalidCodesAreRefused) {
  AnteroomProcess server;
  server.MustPutQueue("a", {{"max_active", 0}});
  server.MustPutQueue("b", {{"max_active", 0}});
  std::string code = MustMintOne(server, "a", {{"uses", 10}});
  ASSERT_EQ(code.size(), 16u);

  for (const std::string& bad :
       std::vector<std::string>{"NOT-A-CODE", "", "0000000000000000000", "IIIIIIIIIIIIIIII",
                                "7K3M-9QXW-Z2AB-CDE!", "0000-0000-0000-0000"})
    ExpectRefused(JoinWith(server, "a", bad), 403, "invite_invalid");
  ExpectRefused(JoinWith(server, "b", code), 403, "invite_invalid");  // a's code, not b's
  EXPECT_EQ(IntAt(server.MustStats("a"), {"waiting"}), 0);
  EXPECT_EQ(IntAt(server.MustStats("b"), {"waiting"}), 0);

  std::string typed;
  for (size_t i = 0; i < code.size(); ++i) {
    if (i && i % 4 == 0) typed += '-';
    // Lower case, and the letters a person reads as digits (Crockford: O is 0, I and L are 1).
    char c = code[i] == '0' ? 'O' : code[i] == '1' ? (i % 2 ? 'I' : 'L') : code[i];
    typed += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(JoinWith(server, "a", typed).status, 201) << typed;

  // Wrong types are bad requests, not refusals.
  for (json::value bad : {json::value(12), json::value(true), json::value(json::object{}),
                          json::value(std::string(65, 'A'))}) {
    HttpResponse r = server.Join("a", json::object{{"invite", bad}});
    EXPECT_EQ(r.status, 400) << json::serialize(bad) << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "bad_request") << r;
  }
  EXPECT_EQ(Int(ListedInvite(server, "a", code), "used"), 1);
}

// Every use of a code is counted: GET shows used / uses_left going down; the last use taken,
// the next join is refused; a retry of a join that already has its ticket (same user) gets that
// ticket and takes no second use.
TEST(Invites, UsesAreCountedDownUntilUsedUp) {
  AnteroomProcess server;
  server.MustPutQueue("club", {{"max_active", 0}});
  std::string code = MustMintOne(server, "club", {{"uses", 3}});
  ASSERT_FALSE(code.empty());
  json::value fresh = ListedInvite(server, "club", code);
  EXPECT_EQ(Int(fresh, "used"), 0);
  EXPECT_EQ(Int(fresh, "uses_left"), 3);

  std::vector<std::string> tickets;
  for (int i = 1; i <= 3; ++i) {
    HttpResponse r =
        server.Join("club", json::object{{"invite", code}, {"user", "u" + std::to_string(i)}});
    ASSERT_EQ(r.status, 201) << r;
    tickets.push_back(Str(r.Json(), "ticket"));
    json::value listed = ListedInvite(server, "club", code);
    EXPECT_EQ(Int(listed, "used"), i) << json::serialize(listed);
    EXPECT_EQ(Int(listed, "uses_left"), 3 - i) << json::serialize(listed);

    // The same visitor again: its ticket, no use taken.
    HttpResponse again =
        server.Join("club", json::object{{"invite", code}, {"user", "u" + std::to_string(i)}});
    EXPECT_EQ(again.status, 200) << again;
    EXPECT_EQ(Str(again.Json(), "ticket"), tickets.back()) << again;
    EXPECT_EQ(Int(ListedInvite(server, "club", code), "used"), i);
  }
  ExpectRefused(JoinWith(server, "club", code), 403, "invite_used_up");
  ExpectRefused(server.Join("club", json::object{{"invite", code}, {"user", "u4"}}), 403,
                "invite_used_up");
  json::value spent = ListedInvite(server, "club", code);
  EXPECT_EQ(Int(spent, "used"), 3);
  EXPECT_EQ(Int(spent, "uses_left"), 0);
  EXPECT_EQ(IntAt(server.MustStats("club"), {"waiting"}), 3);

  // A single-use code: one join, then used up.
  std::string once = MustMintOne(server, "club");
  EXPECT_EQ(JoinWith(server, "club", once).status, 201);
  ExpectRefused(JoinWith(server, "club", once), 403, "invite_used_up");
}

// DELETE revokes: joins with the code are refused from then on, the ticket it made stays;
// revoking again returns it unchanged; an unknown or malformed code is 404.
TEST(Invites, RevokedCodeIsRefused) {
  AnteroomProcess server;
  server.MustPutQueue("club", {{"max_active", 0}});
  std::string code = MustMintOne(server, "club", {{"uses", 10}, {"label", "press"}});
  ASSERT_FALSE(code.empty());
  HttpResponse first = JoinWith(server, "club", code);
  ASSERT_EQ(first.status, 201) << first;

  HttpResponse revoked = server.Admin("DELETE", InvitesPath("club") + "/" + code);
  ASSERT_EQ(revoked.status, 200) << revoked;
  json::value inv = revoked.Json();
  EXPECT_EQ(Str(inv, "code"), code);
  EXPECT_EQ(Bool(inv, "revoked"), true);
  EXPECT_EQ(Int(inv, "used"), 1);
  EXPECT_EQ(Str(inv, "label"), "press");

  ExpectRefused(JoinWith(server, "club", code), 403, "invite_revoked");
  HttpResponse kept = server.GetTicket("club", Str(first.Json(), "ticket"));
  EXPECT_EQ(Str(kept.Json(), "status"), "waiting") << kept;
  EXPECT_EQ(Bool(ListedInvite(server, "club", code), "revoked"), true);

  HttpResponse again = server.Admin("DELETE", InvitesPath("club") + "/" + code);
  ASSERT_EQ(again.status, 200) << again;
  EXPECT_EQ(again.Json(), revoked.Json());

  // The code as typed (lower case, dashes) names it too.
  std::string other = MustMintOne(server, "club");
  std::string typed = other.substr(0, 8) + "-" + other.substr(8);
  for (char& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  HttpResponse by_typed = server.Admin("DELETE", InvitesPath("club") + "/" + typed);
  ASSERT_EQ(by_typed.status, 200) << by_typed;
  EXPECT_EQ(Str(by_typed.Json(), "code"), other);

  ExpectRefused(server.Admin("DELETE", InvitesPath("club") + "/0000000000000000"), 404,
                "invite_not_found");
  ExpectRefused(server.Admin("DELETE", InvitesPath("club") + "/not-a-code"), 404,
                "invite_not_found");
  ExpectRefused(server.Admin("DELETE", InvitesPath("nowhere") + "/" + code), 404,
                "queue_not_found");
}

// An expiry in the past is refused at mint. A code expiring in a few seconds works until then,
// then every join with it is refused invite_expired (polled with a deadline: the condition is
// the server's own clock passing expires_at).
TEST(Invites, ExpiredCodeIsRefused) {
  AnteroomProcess server;
  server.MustPutQueue("club", {{"max_active", 0}});
  for (long long past : {UnixNow() - 1, UnixNow() - 86'400}) {
    HttpResponse r = server.Admin("POST", InvitesPath("club"),
                                  json::serialize(json::object{{"expires_at", past}}),
                                  {{"Content-Type", "application/json"}});
    ExpectRefused(r, 400, "bad_request");
  }

  // (3 s, not less: the first join must surely come before the expiry, which the API rounds
  // to whole seconds; polled every 50 ms, the joins stay far below the 100 uses.)
  long long expires_at = UnixNow() + 3;
  std::string code = MustMintOne(server, "club", {{"uses", 100}, {"expires_at", expires_at}});
  ASSERT_FALSE(code.empty());
  ASSERT_EQ(JoinWith(server, "club", code).status, 201);

  HttpResponse last;
  int admitted = 1;
  bool refused = PollUntil(
      [&] {
        last = JoinWith(server, "club", code);
        if (last.status == 201) ++admitted;
        return last.status != 201;
      },
      DeadlineIn(3s + kPatience), 50ms);
  ASSERT_TRUE(refused) << "still taking joins long after expires_at: " << last;
  ExpectRefused(last, 403, "invite_expired");
  EXPECT_GE(UnixNow(), expires_at - 1) << "refused as expired before its time";
  ExpectRefused(JoinWith(server, "club", code), 403, "invite_expired");
  json::value listed = ListedInvite(server, "club", code);
  EXPECT_EQ(Int(listed, "used"), admitted);
  EXPECT_EQ(Int(listed, "expires_at"), expires_at);
}

// GET pages through the codes in code order: `next` links until a short page, then null.
TEST(Invites, ListingPagesInCodeOrder) {
  AnteroomProcess server;
  server.MustPutQueue("club", {});
  HttpResponse empty = server.Admin("GET", InvitesPath("club"));
  ASSERT_EQ(empty.status, 200) << empty;
  EXPECT_EQ(json::serialize(empty.Json()), R"({"invites":[],"next":null})");

  std::set<std::string> minted;
  for (const json::value& inv : MustMint(server, "club", {{"count", 7}}))
    minted.insert(Str(inv, "code"));
  ASSERT_EQ(minted.size(), 7u);

  std::vector<std::string> seen;
  std::string target = InvitesPath("club") + "?limit=3";
  int pages = 0;
  while (!target.empty() && pages < 10) {
    ++pages;
    HttpResponse r = server.Admin("GET", target);
    ASSERT_EQ(r.status, 200) << r;
    json::value body = r.Json();
    const json::value* list = Field(body, "invites");
    ASSERT_TRUE(list && list->is_array()) << r;
    EXPECT_LE(list->as_array().size(), 3u) << r;
    for (const json::value& inv : list->as_array()) seen.push_back(Str(inv, "code"));
    const json::value* next = Field(body, "next");
    ASSERT_NE(next, nullptr) << r;
    if (next->is_null()) {
      target.clear();
    } else {
      ASSERT_TRUE(next->is_string()) << r;
      target = std::string(next->as_string());
      EXPECT_EQ(target, InvitesPath("club") + "?after=" + seen.back() + "&limit=3");
    }
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(std::vector<std::string>(minted.begin(), minted.end()), seen)
      << "every code once, in code order";
  // The default page holds them all.
  HttpResponse all = server.Admin("GET", InvitesPath("club"));
  EXPECT_EQ(all.Json().at("invites").as_array().size(), 7u) << all;
  EXPECT_TRUE(all.Json().at("next").is_null()) << all;
}

// The three invite routes are the operator's: without the admin token they are 401 and change
// nothing.
TEST(Invites, EveryRouteNeedsTheAdminToken) {
  AnteroomProcess server;
  server.MustPutQueue("club", {});
  std::string code = MustMintOne(server, "club");
  ASSERT_FALSE(code.empty());
  for (const std::string& auth :
       std::vector<std::string>{"", "Bearer wrong", "Bearer test-admin-and-more", "Bearer ",
                                "test-admin", "Basic dGVzdC1hZG1pbjo="}) {
    Headers h;
    if (!auth.empty()) h.emplace_back("Authorization", auth);
    Headers json_h = h;
    json_h.emplace_back("Content-Type", "application/json");
    for (HttpResponse r : {server.Request("POST", InvitesPath("club"), json_h, R"({"count":5})"),
                           server.Request("GET", InvitesPath("club"), h),
                           server.Request("DELETE", InvitesPath("club") + "/" + code, h)}) {
      EXPECT_EQ(r.status, 401) << "'" << auth << "': " << r;
      EXPECT_EQ(r.ErrorCode(), "unauthorized") << r;
      EXPECT_EQ(r.body.find(code), std::string::npos) << "a code shown without the token: " << r;
    }
  }
  HttpResponse listed = server.Admin("GET", InvitesPath("club"));
  ASSERT_EQ(listed.status, 200) << listed;
  ASSERT_EQ(listed.Json().at("invites").as_array().size(), 1u) << "nothing minted: " << listed;
  EXPECT_EQ(Bool(ListedInvite(server, "club", code), "revoked"), false) << "nothing revoked";
}

// Strict bodies and parameters: each mistake is a 400 naming it, nothing is minted.
TEST(Invites, BadBodiesAndParametersAre400) {
  AnteroomProcess server;
  server.MustPutQueue("club", {});
  const std::string far = std::to_string(UnixNow() + 3600);
  for (const std::string& body :
       std::vector<std::string>{R"({"count":0})",
                                R"({"count":10001})",
                                R"({"count":"1"})",
                                R"({"count":1.5})",
                                R"({"count":-1})",
                                R"({"count":18446744073709551615})",
                                R"({"uses":0})",
                                R"({"uses":1000001})",
                                R"({"uses":null})",
                                R"({"expires_at":"tomorrow"})",
                                R"({"expires_at":99999999999})",
                                R"({"expires_at":-5})",
                                R"({"expires_at":)" + far + ".5}",
                                R"({"skip":"yes"})",
                                R"({"skip":1})",
                                R"({"label":42})",
                                R"({"label":")" + std::string(101, 'x') + R"("})",
                                R"({"label":"a\u0001b"})",
                                R"({"codes":["AAAA"]})",
                                R"({"Count":1})",
                                R"([{"count":1}])",
                                R"("count")",
                                "null"}) {
    HttpResponse r =
        server.Admin("POST", InvitesPath("club"), body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << body << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "bad_request") << body << ": " << r;
    EXPECT_FALSE(Str(r.Json(), "message").empty()) << r;
  }
  for (std::string body : {"{", R"({"count":1,})", "count=1", "\xff", "{\"count\":1}x"}) {
    HttpResponse r =
        server.Admin("POST", InvitesPath("club"), body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400) << body << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "invalid_json") << body << ": " << r;
  }
  for (const std::string& query :
       std::vector<std::string>{"?limit=0", "?limit=10001", "?limit=abc", "?limit=-1",
                                "?limit=", "?after=not-a-code", "?after=0000"}) {
    HttpResponse r = server.Admin("GET", InvitesPath("club") + query);
    // (An empty limit= is the default page.)
    if (query == "?limit=") {
      EXPECT_EQ(r.status, 200) << query << ": " << r;
      continue;
    }
    EXPECT_EQ(r.status, 400) << query << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "bad_request") << query << ": " << r;
  }
  HttpResponse listed = server.Admin("GET", InvitesPath("club"));
  EXPECT_EQ(json::serialize(listed.Json()), R"({"invites":[],"next":null})") << "nothing minted";

  // An unknown queue: 404 on every route.
  ExpectRefused(server.Admin("POST", InvitesPath("nowhere"), "{}"), 404, "queue_not_found");
  ExpectRefused(server.Admin("GET", InvitesPath("nowhere")), 404, "queue_not_found");
  // The server is still fine.
  EXPECT_EQ(server.Request("GET", "/healthz").status, 200);
}

// A queue holds at most 100,000 codes (revoked ones included): the mint that would pass that is
// refused whole (409) and mints nothing.
TEST(Invites, AQueueHoldsAtMost100000Codes) {
  AnteroomProcess server;
  server.MustPutQueue("big", {});
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(MustMint(server, "big", {{"count", 10000}}).size(), 10000u);
  HttpResponse more = server.Admin("POST", InvitesPath("big"), R"({"count":1})",
                                   {{"Content-Type", "application/json"}});
  ExpectRefused(more, 409, "too_many_invites");
  HttpResponse last =
      server.Admin("GET", InvitesPath("big") + "?limit=10000&after=ZZZZZZZZZZZZZZZZ");
  ASSERT_EQ(last.status, 200) << last;
  EXPECT_TRUE(last.Json().at("invites").as_array().empty()) << last;
}

// Skip the line (SPEC §8): one visitor holds the only slot (max_active 1) and five wait in line.
// Two holders of a skip code join: they wait ahead of the whole line, first come first (position
// 1, then 2, on GET and on their streams), every line visitor's stream moves back by one each
// time; nobody is admitted beyond max_active; as slots free up the skippers are admitted before
// anyone in the line.
class SkipTheLine : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.MustPutQueue("vip", {{"max_active", 1}, {"admit_per_s", 100}});
    holder_ = server_.MustJoin("vip");
    ASSERT_FALSE(holder_.empty());
    auto holder_stream = server_.Events("vip", holder_);
    ASSERT_TRUE(holder_stream->WaitFor("admitted")) << holder_stream->raw();
    for (int i = 0; i < kLine; ++i) {
      HttpResponse r = server_.Join("vip");
      ASSERT_EQ(r.status, 201) << r;
      EXPECT_EQ(Int(r.Json(), "position"), i + 1) << r;
      EXPECT_EQ(Bool(r.Json(), "skip"), false) << r;
      line_.push_back(Str(r.Json(), "ticket"));
      line_streams_.push_back(server_.Events("vip", line_.back()));
      ASSERT_TRUE(WaitForPosition(*line_streams_.back(), i + 1)) << line_streams_.back()->raw();
    }
  }

  // Every line visitor's stream shows its place in the line moved back by `skippers`.
  void ExpectLineBehind(int skippers) {
    for (int i = 0; i < kLine; ++i)
      EXPECT_TRUE(WaitForPosition(*line_streams_[i], i + 1 + skippers))
          << "line visitor " << i + 1 << " with " << skippers
          << " skippers: " << line_streams_[i]->raw();
  }

  // Ticks have run: a second queue admits two visitors one after the other.
  void WaitForTicks() {
    server_.MustPutQueue("clock", {{"max_active", 10}, {"admit_per_s", 100}});
    for (int i = 0; i < 2; ++i) {
      auto tick = server_.Events("clock", server_.MustJoin("clock"));
      ASSERT_TRUE(tick->WaitFor("admitted")) << tick->raw();
    }
  }

  json::value Ticket(const std::string& id) {
    HttpResponse r = server_.GetTicket("vip", id);
    EXPECT_EQ(r.status, 200) << r;
    return r.Json();
  }

  static constexpr int kLine = 5;
  AnteroomProcess server_;
  std::string holder_;
  std::vector<std::string> line_;
  std::vector<std::unique_ptr<SseClient>> line_streams_;
};

TEST_F(SkipTheLine, SkippersWaitAheadOfTheLineWithinMaxActive) {
  std::string code = MustMintOne(server_, "vip", {{"uses", 2}, {"skip", true}, {"label", "VIP"}});
  ASSERT_FALSE(code.empty());

  std::vector<std::string> skippers;
  std::vector<std::unique_ptr<SseClient>> skip_streams;
  for (int k = 1; k <= 2; ++k) {
    HttpResponse r = JoinWith(server_, "vip", code);
    ASSERT_EQ(r.status, 201) << r;
    json::value v = r.Json();
    EXPECT_EQ(Str(v, "status"), "waiting") << "admitted beyond max_active 1: " << r;
    EXPECT_EQ(Int(v, "position"), k) << r;
    EXPECT_EQ(Bool(v, "skip"), true) << r;
    skippers.push_back(Str(v, "ticket"));
    json::value got = Ticket(skippers.back());
    EXPECT_EQ(Int(got, "position"), k) << json::serialize(got);
    EXPECT_EQ(Bool(got, "skip"), true) << json::serialize(got);
    skip_streams.push_back(server_.Events("vip", skippers.back()));
    ASSERT_EQ(skip_streams.back()->status(), 200) << skip_streams.back()->error_body();
    EXPECT_TRUE(WaitForPosition(*skip_streams.back(), k)) << skip_streams.back()->raw();
    ExpectLineBehind(k);
  }
  EXPECT_EQ(Int(ListedInvite(server_, "vip", code), "uses_left"), 0);

  // The slot is taken: nobody is admitted however many ticks run.
  WaitForTicks();
  for (int k = 0; k < 2; ++k) {
    json::value got = Ticket(skippers[k]);
    EXPECT_EQ(Str(got, "status"), "waiting")
        << "admitted beyond max_active: " << json::serialize(got);
    EXPECT_EQ(Int(got, "position"), k + 1) << json::serialize(got);
  }
  json::value stats = server_.MustStats("vip");
  EXPECT_EQ(IntAt(stats, {"active"}), 1);
  EXPECT_EQ(IntAt(stats, {"waiting"}), kLine + 2);

  // The holder is done: the first skipper takes the slot, the second moves to 1, the line stays
  // behind both until the skippers are through.
  ASSERT_EQ(server_.Complete("vip", holder_).status, 200);
  auto first = skip_streams[0]->WaitFor("admitted");
  ASSERT_TRUE(first) << skip_streams[0]->raw();
  EXPECT_TRUE(WaitForPosition(*skip_streams[1], 1)) << skip_streams[1]->raw();
  ExpectLineBehind(1);
  EXPECT_EQ(Str(Ticket(skippers[1]), "status"), "waiting");
  EXPECT_EQ(Str(Ticket(line_[0]), "status"), "waiting");
  json::value active_skipper = Ticket(skippers[0]);
  EXPECT_EQ(Str(active_skipper, "status"), "active") << json::serialize(active_skipper);
  EXPECT_EQ(Bool(active_skipper, "skip"), true) << json::serialize(active_skipper);

  ASSERT_EQ(server_.Complete("vip", skippers[0]).status, 200);
  auto second = skip_streams[1]->WaitFor("admitted");
  ASSERT_TRUE(second) << skip_streams[1]->raw();
  EXPECT_GT(EventSeq(*second), EventSeq(*first));
  ExpectLineBehind(0);
  EXPECT_EQ(Str(Ticket(line_[0]), "status"), "waiting");

  ASSERT_EQ(server_.Complete("vip", skippers[1]).status, 200);
  auto line_first = line_streams_[0]->WaitFor("admitted");
  ASSERT_TRUE(line_first) << line_streams_[0]->raw();
  EXPECT_GT(EventSeq(*line_first), EventSeq(*second)) << "the line admitted before a skipper";
  EXPECT_TRUE(WaitForPosition(*line_streams_[1], 1)) << line_streams_[1]->raw();
  EXPECT_EQ(IntAt(server_.MustStats("vip"), {"active"}), 1);
}

// A skipper who leaves gives its place back: the line moves up again on every stream.
TEST_F(SkipTheLine, ASkipperLeavingMovesTheLineUp) {
  std::string code = MustMintOne(server_, "vip", {{"skip", true}});
  ASSERT_FALSE(code.empty());
  HttpResponse r = JoinWith(server_, "vip", code);
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_EQ(Int(r.Json(), "position"), 1) << r;
  ExpectLineBehind(1);
  HttpResponse left = server_.Leave("vip", Str(r.Json(), "ticket"));
  ASSERT_EQ(left.status, 200) << left;
  EXPECT_EQ(Bool(left.Json(), "skip"), true) << left;
  ExpectLineBehind(0);
}

// A skipper takes no token from the admission rate: in a queue whose rate admits nobody
// (admit_per_s 0) a line visitor waits while a skipper with a free slot is admitted.
TEST(Invites, ASkipperNeedsASlotNotARateToken) {
  AnteroomProcess server;
  server.MustPutQueue("vip", {{"max_active", 1}, {"admit_per_s", 0}});
  std::string waiting = server.MustJoin("vip");
  ASSERT_FALSE(waiting.empty());
  auto waiting_stream = server.Events("vip", waiting);
  ASSERT_TRUE(WaitForPosition(*waiting_stream, 1)) << waiting_stream->raw();

  std::string code = MustMintOne(server, "vip", {{"skip", true}});
  HttpResponse r = JoinWith(server, "vip", code);
  ASSERT_EQ(r.status, 201) << r;
  EXPECT_EQ(Bool(r.Json(), "skip"), true) << r;
  // Admitted at its join (the only skipper, a free slot) or at the latest by the next tick.
  auto stream = server.Events("vip", Str(r.Json(), "ticket"));
  auto admitted = stream->WaitFor("admitted");
  ASSERT_TRUE(admitted) << stream->raw();
  EXPECT_FALSE(Str(admitted->Json(), "token").empty()) << admitted->Describe();
  // Ticks have run (a second queue admits two visitors one after the other): the line
  // visitor still waits, the slot is the skipper's.
  server.MustPutQueue("clock", {{"max_active", 10}, {"admit_per_s", 100}});
  for (int i = 0; i < 2; ++i) {
    auto tick = server.Events("clock", server.MustJoin("clock"));
    ASSERT_TRUE(tick->WaitFor("admitted")) << tick->raw();
  }
  HttpResponse line = server.GetTicket("vip", waiting);
  EXPECT_EQ(Str(line.Json(), "status"), "waiting") << "the rate admits nobody: " << line;
  EXPECT_EQ(IntAt(server.MustStats("vip"), {"active"}), 1);
}

}  // namespace
}  // namespace anteroom::testing
