// The views' bytes: clients and the e2e tests read these fields; the SSE payloads must stay the
// bytes the hub wrote before the views existed (Boost.JSON's serialization of the same object).
#include "views/views.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "draw/draw.hpp"

namespace anteroom::views {
namespace {

namespace json = boost::json;

Ticket ticket(TicketState s) {
  Ticket t;
  t.id = "AAAAAAAAAAAAAAAAAAAAAA";
  t.queue = "line";
  t.state = s;
  return t;
}

TEST(Views, AdmissionIsWhatBoostJsonWrites) {
  for (std::string redirect : {"", "https://shop.example/?anteroom_token=x.y.z#top",
                               "https://shop.example/\"quoted\"\\\x01"}) {
    Admission a{"h.p.s", 1'700'000'060, redirect};
    json::object o;
    o["token"] = a.token;
    o["expires_at"] = a.expires_at;
    o["redirect"] = a.redirect;
    EXPECT_EQ(admission_json(a), json::serialize(o)) << redirect;
  }
}

TEST(Views, PositionAndEnded) {
  EXPECT_EQ(position_json(12, 30, false), R"({"position":12,"eta_s":30,"paused":false})");
  EXPECT_EQ(position_json(1, -1, true), R"({"position":1,"eta_s":-1,"paused":true})");
  EXPECT_EQ(ended_json(EndReason::abandoned), R"({"reason":"abandoned"})");
}

TEST(Views, TicketByState) {
  Ticket w = ticket(TicketState::waiting);
  w.position = 7;
  TicketExtras x;
  x.eta_s = 4;
  x.paused = true;
  EXPECT_EQ(ticket_json(w, x),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"waiting",)"
            R"("position":7,"eta_s":4,"paused":true,"skip":false})");
  TicketExtras join;
  join.events_url = true;
  EXPECT_EQ(ticket_json(w, join),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"waiting",)"
            R"("position":7,"eta_s":0,"paused":false,"skip":false,)"
            R"("events_url":"/v1/queues/line/tickets/AAAAAAAAAAAAAAAAAAAAAA/events"})");
  Ticket a = ticket(TicketState::active);
  TicketExtras admitted;
  admitted.admission = {"h.p.s", 99, "https://x/?anteroom_token=h.p.s"};
  EXPECT_EQ(ticket_json(a, admitted),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"active",)"
            R"("token":"h.p.s","expires_at":99,"redirect":"https://x/?anteroom_token=h.p.s",)"
            R"("skip":false})");
  Ticket e = ticket(TicketState::ended);
  e.reason = EndReason::left;
  EXPECT_EQ(
      ticket_json(e, {}),
      R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"ended","reason":"left",)"
      R"("skip":false})");
}

// The on-sale (SPEC §7): a pre-queue entrant has no position, only its entry id and the
// countdown; a drawn entrant keeps its entry id and place; a lottery ticket has no position.
TEST(Views, TicketOfAnEntrantBeforeAndAfterTheDraw) {
  const std::string id = "AAAAAAAAAAAAAAAAAAAAAA";
  const std::string entry = draw::entry_id(id);
  ASSERT_EQ(entry.size(), 22u);
  ASSERT_NE(entry, id);  // the entry id is public, the ticket id is the visitor's secret

  Ticket pre = ticket(TicketState::waiting);
  pre.entrant = true;
  TicketExtras x;
  x.events_url = true;
  x.opens_at = 1'767'225'600;
  x.seconds_left = 42;
  x.eta_s = 99;  // not shown: no position before the draw
  EXPECT_EQ(ticket_json(pre, x),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"prequeue",)"
            R"("entry_id":")" +
                entry +
                R"(","opens_at":1767225600,"seconds_left":42,"skip":false,)"
                R"("events_url":"/v1/queues/line/tickets/AAAAAAAAAAAAAAAAAAAAAA/events"})");

  Ticket drawn = pre;
  drawn.place = 12;
  drawn.position = 5;
  TicketExtras y;
  y.eta_s = 3;
  EXPECT_EQ(ticket_json(drawn, y),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"waiting",)"
            R"("position":5,"eta_s":3,"paused":false,"entry_id":")" +
                entry + R"(","place":12,"skip":false})");
  // A drawn entrant in a lottery queue keeps its draw order: a position, no lottery fields.
  y.lottery = true;
  EXPECT_EQ(ticket_json(drawn, y).find("lottery"), std::string::npos);

  Ticket active = drawn;
  active.state = TicketState::active;
  TicketExtras z;
  z.admission = {"h.p.s", 99, ""};
  EXPECT_EQ(ticket_json(active, z),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"active",)"
            R"("token":"h.p.s","expires_at":99,"redirect":"","entry_id":")" +
                entry + R"(","place":12,"skip":false})");
  Ticket ended = drawn;
  ended.state = TicketState::ended;
  ended.reason = EndReason::left;
  EXPECT_EQ(
      ticket_json(ended, {}),
      R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"ended","reason":"left",)"
      R"("skip":false})");
  // An ordinary ticket (joined after the draw) has no entry id.
  Ticket later = ticket(TicketState::waiting);
  later.position = 20'001;
  EXPECT_EQ(ticket_json(later, {}).find("entry_id"), std::string::npos);
}

TEST(Views, LotteryTicketHasNoPosition) {
  Ticket w = ticket(TicketState::waiting);
  w.position = 7;
  TicketExtras x;
  x.lottery = true;
  x.waiting = 400;
  x.eta_min_s = 4;
  x.eta_max_s = 36;
  x.events_url = true;
  EXPECT_EQ(ticket_json(w, x),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"waiting",)"
            R"("lottery":true,"waiting":400,"eta_min_s":4,"eta_max_s":36,"skip":false,)"
            R"("events_url":"/v1/queues/line/tickets/AAAAAAAAAAAAAAAAAAAAAA/events"})");
  // Only a waiting ticket is in the lottery.
  Ticket a = ticket(TicketState::active);
  EXPECT_EQ(ticket_json(a, x).find("lottery"), std::string::npos);
}

// A skip-the-line ticket says so in every state (the page shows it; the operator's tools see it).
TEST(Views, TicketSaysWhetherItSkipsTheLine) {
  Ticket w = ticket(TicketState::waiting);
  w.position = 1;
  w.skip = true;
  EXPECT_EQ(ticket_json(w, {}),
            R"({"ticket":"AAAAAAAAAAAAAAAAAAAAAA","queue":"line","status":"waiting",)"
            R"("position":1,"eta_s":0,"paused":false,"skip":true})");
  for (TicketState s : {TicketState::waiting, TicketState::active, TicketState::ended}) {
    Ticket t = ticket(s);
    t.skip = true;
    EXPECT_EQ(json::parse(ticket_json(t, {})).at("skip"), true) << to_string(s);
    t.skip = false;
    EXPECT_EQ(json::parse(ticket_json(t, {})).at("skip"), false) << to_string(s);
  }
}

// One invite's JSON for every invites route: times in Unix seconds, uses left computed, the
// operator's label escaped.
TEST(Views, InviteShowsUsesLeftAndTimesInSeconds) {
  Invite inv;
  inv.code = "7K3M9QXWZ2ABCDEF";
  inv.uses = 5;
  inv.used = 2;
  inv.created_ms = 1'767'225'600'123;
  EXPECT_EQ(invite_json(inv),
            R"({"code":"7K3M9QXWZ2ABCDEF","uses":5,"used":2,"uses_left":3,"expires_at":null,)"
            R"("skip":false,"revoked":false,"created_at":1767225600,"label":""})");
  inv.expires_ms = 1'767'229'200'000;
  inv.skip = true;
  inv.revoked = true;
  inv.used = 5;
  inv.label = "VIP \"gold\"\n";
  std::string out = invite_json(inv);
  auto v = json::parse(out).as_object();
  EXPECT_EQ(v["expires_at"], 1'767'229'200);
  EXPECT_EQ(v["uses_left"], 0);
  EXPECT_EQ(v["skip"], true);
  EXPECT_EQ(v["revoked"], true);
  EXPECT_EQ(v["label"].as_string(), inv.label);
  // An expiry within a second is shown as the next second: never earlier than it is.
  inv.expires_ms = 1'767'229'200'001;
  EXPECT_EQ(json::parse(invite_json(inv)).at("expires_at"), 1'767'229'201);
}

TEST(Views, QueueShowsTheScheduleModeMessageAndDraw) {
  QueueInfo i;
  i.name = "concert";
  auto v = json::parse(queue_json(i, 0, 0)).as_object();
  auto& c = v["config"].as_object();
  EXPECT_TRUE(c["prequeue_at"].is_null());
  EXPECT_TRUE(c["opens_at"].is_null());
  EXPECT_TRUE(c["closes_at"].is_null());
  EXPECT_EQ(c["mode"], "fifo");
  EXPECT_EQ(c["message"], "");
  EXPECT_EQ(json::serialize(v["draw"]),
            R"({"state":"none","entrants":0,"commitment":"","drawn_at_ms":0})");

  i.config.prequeue_at = 1'767'222'000;
  i.config.opens_at = 1'767'225'600;
  i.config.closes_at = 1'767'229'200;
  i.config.mode = Mode::passthrough;
  i.config.message = "Doors at 10:00.\n\"Quoted\" \\ and \x01";
  i.draw.state = DrawState::drawn;
  i.draw.entrants = 20'000;
  i.draw.commitment = std::string(64, 'a');
  i.draw.seed = std::string(64, 'b');  // never shown here
  i.draw.drawn_at_ms = 1'767'225'600'042;
  std::string out = queue_json(i, 0, 0);
  EXPECT_EQ(out.find("bbbb"), std::string::npos) << out;
  v = json::parse(out).as_object();
  auto& c2 = v["config"].as_object();
  EXPECT_EQ(c2["prequeue_at"], 1'767'222'000);
  EXPECT_EQ(c2["opens_at"], 1'767'225'600);
  EXPECT_EQ(c2["closes_at"], 1'767'229'200);
  EXPECT_EQ(c2["mode"], "passthrough");
  EXPECT_EQ(c2["message"].as_string(), i.config.message);  // escaped, and read back the same
  auto& d = v["draw"].as_object();
  EXPECT_EQ(d["state"], "drawn");
  EXPECT_EQ(d["entrants"], 20'000);
  EXPECT_EQ(d["commitment"].as_string(), std::string(64, 'a'));
  EXPECT_EQ(d["drawn_at_ms"], 1'767'225'600'042);
  i.draw.state = DrawState::void_;
  EXPECT_NE(queue_json(i, 0, 0).find(R"("state":"void")"), std::string::npos);
}

TEST(Views, QueueHidesSecretsAndRoundsRates) {
  QueueInfo i;
  i.name = "line";
  i.seq = 9;
  i.config.admit_per_s = 2.5;
  i.config.webhooks = {{"http://a/", "s3cret"}, {"http://b/", ""}};
  i.stats.waiting = 3;
  i.stats.oldest_joined_ms = 1'000;
  auto v = json::parse(queue_json(i, 1.0 / 3, 11'500)).as_object();
  EXPECT_EQ(v["name"], "line");
  EXPECT_EQ(v["seq"], 9);
  EXPECT_EQ(v["closed"], false);
  auto& c = v["config"].as_object();
  EXPECT_EQ(c["admit_per_s"].as_double(), 2.5);
  EXPECT_EQ(json::serialize(c["webhooks"]),
            R"([{"url":"http://a/","signed":true},{"url":"http://b/","signed":false}])");
  auto& s = v["stats"].as_object();
  EXPECT_EQ(s["waiting"], 3);
  EXPECT_EQ(s["admit_rate"].as_double(), 0.33);
  EXPECT_EQ(s["oldest_wait_s"], 10);
  i.config.admit_per_s = 10;
  EXPECT_NE(queue_json(i, 0, 0).find(R"("admit_per_s":10,)"), std::string::npos);
}

// Numbers read as a person writes them, never Boost.JSON's 2.5E0 / 0E0, and small rates are
// not rounded away.
TEST(Views, NumbersAreWrittenPlainly) {
  QueueInfo i;
  i.name = "line";
  auto shown = [&](double rate) {
    i.config.admit_per_s = rate;
    std::string out = queue_json(i, rate, 0);
    EXPECT_NO_THROW((void)json::parse(out)) << out;
    return out;
  };
  EXPECT_NE(shown(2.5).find(R"("admit_per_s":2.5,)"), std::string::npos);
  EXPECT_NE(shown(2.5).find(R"("admit_rate":2.5,)"), std::string::npos);
  EXPECT_NE(shown(0.001).find(R"("admit_per_s":0.001,)"), std::string::npos);
  EXPECT_NE(shown(0.001).find(R"("admit_rate":0,)"), std::string::npos);
  EXPECT_NE(shown(0).find(R"("admit_per_s":0,)"), std::string::npos);
  EXPECT_NE(shown(1e6).find(R"("admit_per_s":1000000,)"), std::string::npos);
  EXPECT_NE(shown(123456.789).find(R"("admit_per_s":123456.789,)"), std::string::npos);
  // A value stored before the bounds existed still prints as a JSON number.
  EXPECT_EQ(json::parse(shown(1e-320)).at("config").at("admit_per_s").as_double(), 1e-320);
  EXPECT_EQ(shown(2.5).find("E"), std::string::npos);
}

// The on-sale's SSE payloads: exact bytes (the page parses them), valid JSON, the operator's
// message escaped (quotes, line breaks, non-ASCII as is).
TEST(Views, OnSalePayloads) {
  EXPECT_EQ(prequeue_json(1700000000, 42, 20000, "AAAAAAAAAAAAAAAAAAAAAA"),
            R"({"opens_at":1700000000,"seconds_left":42,"entrants":20000,)"
            R"("entry_id":"AAAAAAAAAAAAAAAAAAAAAA"})");
  EXPECT_EQ(prequeue_json(1700000000, 0, 3),
            R"({"opens_at":1700000000,"seconds_left":0,"entrants":3})");
  EXPECT_EQ(drawn_json(1234, 20000, 1200, 60),
            R"({"place":1234,"entrants":20000,"position":1200,"eta_s":60})");
  EXPECT_EQ(lottery_json(400, 3, 36), R"({"waiting":400,"eta_min_s":3,"eta_max_s":36})");
  EXPECT_EQ(message_json(""), R"({"message":""})");
  std::string out = message_json("Sold out at 10:05 \"VIP\"\nThanks é");
  EXPECT_EQ(json::parse(out).at("message").as_string(), "Sold out at 10:05 \"VIP\"\nThanks é");
  EXPECT_EQ(out.find('\n'), std::string::npos) << out;  // one `data:` line
}

}  // namespace
}  // namespace anteroom::views
