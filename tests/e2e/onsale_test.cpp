// The on-sale at the HTTP edge (SPEC §7, docs/api.md), one embedded process: a schedule and its
// refusals, joins refused before prequeue_at, the pre-queue join, the public draw before and
// after opens_at (checked here from its own bytes: the seed against the commitment, the order
// recomputed from the seed and the entry ids by support/draw_check), the lottery ticket, mode reject, closes_at.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/draw_check.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

long long NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsHex64(const std::string& s) { return std::regex_match(s, std::regex("^[0-9a-f]{64}$")); }

// A member by path as a value (null when missing: the assertions on it then fail readably).
json::value At(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* p = Path(v, keys);
  return p ? *p : json::value();
}
bool IsNull(const json::value& v, std::string_view key) {
  const json::value* f = Field(v, key);
  return f && f->is_null();
}
// A member that is an array of strings ({} when missing or of another shape).
std::vector<std::string> Strings(const json::value& v, std::string_view key) {
  std::vector<std::string> out;
  if (const json::value* a = Field(v, key); a && a->is_array())
    for (const auto& x : a->as_array())
      if (x.is_string()) out.push_back(std::string(x.as_string()));
  return out;
}

std::string DrawPath(std::string_view q, std::string_view query = "") {
  return "/v1/queues/" + std::string(q) + "/draw" + std::string(query);
}

// Waits until GET .../draw says `state`; returns the last answer.
HttpResponse WaitForDrawState(const AnteroomProcess& server, std::string_view q,
                              std::string_view state) {
  HttpResponse last;
  PollUntil(
      [&] {
        last = server.Request("GET", DrawPath(q));
        return last.status == 200 && Str(last.Json(), "state") == state;
      },
      DeadlineIn(kPatience));
  return last;
}

void ExpectRefusal(const HttpResponse& r, int status, std::string_view code,
                   std::string_view mentions) {
  EXPECT_EQ(r.status, status) << r;
  EXPECT_EQ(r.ErrorCode(), code) << r;
  EXPECT_NE(Str(r.Json(), "message").find(mentions), std::string::npos)
      << "the message should name '" << mentions << "': " << r;
}

TEST(OnSale, BadSchedulesAreRefusedWithClearJson) {
  AnteroomProcess server;
  long long now = NowS();
  server.MustPutQueue("sale", {{"max_active", 0}});
  // The parse: each refusal names its field.
  ExpectRefusal(server.PutQueue("sale", {{"opens_at", "soon"}}), 400, "bad_request", "opens_at");
  ExpectRefusal(server.PutQueue("sale", {{"closes_at", 1.5e9}}), 400, "bad_request", "closes_at");
  ExpectRefusal(server.PutQueue("sale", {{"prequeue_at", 12}}), 400, "bad_request", "prequeue_at");
  ExpectRefusal(server.PutQueue("sale", {{"mode", "lottery"}}), 400, "bad_request", "mode");
  ExpectRefusal(server.PutQueue("sale", {{"message", std::string(501, 'x')}}), 400, "bad_request",
                "message");
  ExpectRefusal(server.PutQueue("sale", {{"message", "bell\a"}}), 400, "bad_request", "message");
  // The merged schedule.
  ExpectRefusal(server.PutQueue("sale", {{"prequeue_at", now + 60}}), 400, "bad_request",
                "prequeue_at");
  ExpectRefusal(server.PutQueue("sale", {{"prequeue_at", now + 120}, {"opens_at", now + 60}}), 400,
                "bad_request", "prequeue_at");
  ExpectRefusal(server.PutQueue("sale", {{"opens_at", now + 60}, {"closes_at", now + 60}}), 400,
                "bad_request", "closes_at");
  // None of them changed the queue.
  HttpResponse q = server.GetQueue("sale");
  ASSERT_EQ(q.status, 200) << q;
  EXPECT_TRUE(At(q.Json(), {"config", "opens_at"}).is_null()) << q;
  EXPECT_EQ(Str(At(q.Json(), {"config"}), "mode"), "fifo") << q;
  EXPECT_EQ(Str(At(q.Json(), {"draw"}), "state"), "none") << q;
  // No schedule, no draw.
  HttpResponse none = server.Request("GET", DrawPath("sale"));
  EXPECT_EQ(none.status, 404) << none;
  EXPECT_EQ(none.ErrorCode(), "no_draw") << none;

  // A running line cannot become an on-sale under its visitors.
  ASSERT_FALSE(server.MustJoin("sale").empty());
  ExpectRefusal(server.PutQueue("sale", {{"opens_at", now + 60}}), 409, "schedule_locked",
                "waiting");
}

TEST(OnSale, PrequeueThenTheDrawAnyoneCanCheck) {
  AnteroomProcess server;
  long long now = NowS();
  HttpResponse put = server.PutQueue("sale", {{"prequeue_at", now + 3600},
                                              {"opens_at", now + 7200},
                                              {"closes_at", now + 10800},
                                              {"max_active", 0}});
  ASSERT_EQ(put.status, 201) << put;
  json::value cfg = At(put.Json(), {"config"});
  EXPECT_EQ(Int(cfg, "prequeue_at"), now + 3600) << put;
  EXPECT_EQ(Int(cfg, "opens_at"), now + 7200) << put;
  EXPECT_EQ(Int(cfg, "closes_at"), now + 10800) << put;
  EXPECT_EQ(Str(At(put.Json(), {"draw"}), "state"), "prequeue") << put;
  std::string commitment = Str(At(put.Json(), {"draw"}), "commitment");
  EXPECT_TRUE(IsHex64(commitment)) << put;

  // Before prequeue_at: refused, with the times.
  HttpResponse early = server.Join("sale");
  EXPECT_EQ(early.status, 403) << early;
  EXPECT_EQ(early.ErrorCode(), "not_open_yet") << early;
  EXPECT_EQ(Int(early.Json(), "prequeue_at"), now + 3600) << early;
  EXPECT_EQ(Int(early.Json(), "opens_at"), now + 7200) << early;
  EXPECT_EQ(Int(early.Json(), "closes_at"), now + 10800) << early;
  ASSERT_TRUE(Int(early.Json(), "now").has_value()) << early;
  EXPECT_GE(*Int(early.Json(), "now"), now) << early;
  EXPECT_LE(*Int(early.Json(), "now"), NowS()) << early;

  EXPECT_EQ(SumMetric(server.Metrics().body, "joins_refused_total{reason=\"not_open_yet\"}"), 1);

  // The draw before it happens: the commitment, no seed, no entries.
  HttpResponse before = server.Request("GET", DrawPath("sale"));
  ASSERT_EQ(before.status, 200) << before;
  EXPECT_EQ(before.Header("Cache-Control"), "no-store") << before;
  json::value b = before.Json();
  EXPECT_EQ(Str(b, "queue"), "sale");
  EXPECT_EQ(Str(b, "algorithm"), "anteroom-draw-v1");
  EXPECT_EQ(Str(b, "state"), "prequeue");
  EXPECT_EQ(Str(b, "commitment"), commitment);
  EXPECT_EQ(Int(b, "entrants"), 0);
  EXPECT_EQ(Int(b, "prequeue_at"), now + 3600);
  EXPECT_EQ(Int(b, "opens_at"), now + 7200);
  EXPECT_EQ(Field(b, "seed"), nullptr) << before;
  EXPECT_EQ(Field(b, "entries"), nullptr) << before;
  EXPECT_TRUE(IsNull(b, "next")) << before;

  // prequeue_at unset: the pre-queue is open from now.
  ASSERT_EQ(server.PutQueue("sale", {{"prequeue_at", nullptr}}).status, 200);
  std::vector<std::string> tickets;
  std::set<std::string> entry_ids;
  for (int i = 0; i < 7; ++i) {
    HttpResponse j =
        i == 0 ? server.Join("sale", json::object{{"user", "alice"}}) : server.Join("sale");
    ASSERT_EQ(j.status, 201) << j;
    json::value v = j.Json();
    std::string t = Str(v, "ticket");
    EXPECT_EQ(Str(v, "status"), "prequeue") << j;
    EXPECT_EQ(Str(v, "entry_id"), EntryId(t)) << j;
    EXPECT_EQ(Int(v, "opens_at"), now + 7200) << j;
    ASSERT_TRUE(Int(v, "seconds_left").has_value()) << j;
    EXPECT_GT(*Int(v, "seconds_left"), 7200 - 60) << j;
    EXPECT_LE(*Int(v, "seconds_left"), 7200) << j;
    EXPECT_EQ(Field(v, "position"), nullptr) << "no position before the draw: " << j;
    EXPECT_EQ(Str(v, "events_url"), "/v1/queues/sale/tickets/" + t + "/events") << j;
    tickets.push_back(t);
    entry_ids.insert(EntryId(t));
  }
  // A known user gets the same entry back.
  HttpResponse again = server.Join("sale", json::object{{"user", "alice"}});
  EXPECT_EQ(again.status, 200) << again;
  EXPECT_EQ(Str(again.Json(), "ticket"), tickets[0]) << again;
  EXPECT_EQ(Str(again.Json(), "status"), "prequeue") << again;
  HttpResponse look = server.GetTicket("sale", tickets[3]);
  EXPECT_EQ(Str(look.Json(), "status"), "prequeue") << look;
  EXPECT_EQ(Str(look.Json(), "entry_id"), EntryId(tickets[3])) << look;

  HttpResponse filling = server.Request("GET", DrawPath("sale"));
  EXPECT_EQ(Int(filling.Json(), "entrants"), 7) << filling;
  EXPECT_EQ(Field(filling.Json(), "seed"), nullptr) << filling;
  EXPECT_EQ(IntAt(server.GetQueue("sale").Json(), {"draw", "entrants"}), 7);

  // During the pre-queue opens_at moves but cannot be removed.
  ExpectRefusal(server.PutQueue("sale", {{"opens_at", nullptr}}), 409, "schedule_locked",
                "opens_at");
  long long opens = NowS() + 1;
  ASSERT_EQ(server.PutQueue("sale", {{"opens_at", opens}}).status, 200);

  HttpResponse drawn = WaitForDrawState(server, "sale", "drawn");
  ASSERT_EQ(Str(drawn.Json(), "state"), "drawn") << drawn;
  json::value d = drawn.Json();
  // The plain path may serve the next sale's draw after a reopen: cached a minute only.
  EXPECT_EQ(drawn.Header("Cache-Control"), "public, max-age=60") << drawn;
  std::string etag = drawn.Header("ETag");
  EXPECT_FALSE(etag.empty()) << drawn;
  std::string seed = Str(d, "seed");
  ASSERT_TRUE(IsHex64(seed)) << drawn;
  EXPECT_EQ(Commitment(FromHex(seed)), commitment)
      << "the seed must be the one committed to before the pre-queue";
  EXPECT_EQ(Str(d, "commitment"), commitment);
  EXPECT_EQ(Int(d, "entrants"), 7);
  EXPECT_EQ(Int(d, "opens_at"), opens);
  EXPECT_TRUE(IsNull(d, "prequeue_at")) << drawn;
  ASSERT_TRUE(Int(d, "drawn_at_ms").has_value());
  EXPECT_GE(*Int(d, "drawn_at_ms"), opens * 1000);
  EXPECT_EQ(Int(d, "after"), 0);
  EXPECT_TRUE(IsNull(d, "next")) << drawn;
  std::vector<std::string> published = Strings(d, "entries");
  std::vector<std::string> expected =
      DrawOrder(FromHex(seed), std::vector<std::string>(entry_ids.begin(), entry_ids.end()));
  EXPECT_EQ(published, expected) << "the published order is the documented function";

  // The same page again is unchanged; a cache holding it may revalidate.
  HttpResponse cached = server.Request("GET", DrawPath("sale"), {{"If-None-Match", etag}});
  EXPECT_EQ(cached.status, 304) << cached;
  EXPECT_TRUE(cached.body.empty()) << cached;
  EXPECT_EQ(server.Request("GET", DrawPath("sale"), {{"If-None-Match", "\"x\", W/" + etag}}).status,
            304);
  EXPECT_EQ(server.Request("GET", DrawPath("sale"), {{"If-None-Match", "\"x\""}}).status, 200);
  EXPECT_EQ(server.Request("GET", DrawPath("sale")).body, drawn.body);

  // A URL naming the draw by its commitment is that draw for good; another commitment is no
  // draw served here.
  HttpResponse named = server.Request("GET", DrawPath("sale", "?commitment=" + commitment));
  EXPECT_EQ(named.status, 200) << named;
  EXPECT_EQ(named.Header("Cache-Control"), "public, max-age=31536000, immutable") << named;
  EXPECT_EQ(Strings(named.Json(), "entries"), published);
  HttpResponse other = server.Request("GET", DrawPath("sale", "?commitment=" + std::string(64, '0')));
  EXPECT_EQ(other.status, 404) << other;
  EXPECT_EQ(Str(other.Json(), "error"), "no_draw") << other;

  // Pages of 3 linked by `next`: the same order.
  std::vector<std::string> paged;
  std::string target = DrawPath("sale", "?limit=3");
  std::vector<long long> afters;
  for (int pages = 0; !target.empty() && pages < 10; ++pages) {
    HttpResponse p = server.Request("GET", target);
    ASSERT_EQ(p.status, 200) << p;
    json::value v = p.Json();
    afters.push_back(Int(v, "after").value_or(-1));
    for (const std::string& x : Strings(v, "entries")) paged.push_back(x);
    target = Str(v, "next");  // "" when null: the last page
  }
  EXPECT_EQ(afters, (std::vector<long long>{0, 3, 6}));
  EXPECT_EQ(paged, published);
  HttpResponse second = server.Request("GET", DrawPath("sale", "?after=3&limit=3"));
  EXPECT_EQ(Str(second.Json(), "next"),
            "/v1/queues/sale/draw?after=6&limit=3&commitment=" + commitment)
      << second;
  HttpResponse past = server.Request("GET", DrawPath("sale", "?after=7"));
  ASSERT_EQ(past.status, 200) << past;
  ASSERT_NE(Field(past.Json(), "entries"), nullptr) << past;
  EXPECT_TRUE(Strings(past.Json(), "entries").empty()) << past;
  EXPECT_TRUE(IsNull(past.Json(), "next")) << past;

  for (std::string bad : {"?after=-1", "?after=x", "?after=1.5", "?after=99999999999999999999"})
    ExpectRefusal(server.Request("GET", DrawPath("sale", bad)), 400, "bad_request", "after");
  for (std::string bad : {"?limit=0", "?limit=10001", "?limit=abc", "?after=0&limit=-3"})
    ExpectRefusal(server.Request("GET", DrawPath("sale", bad)), 400, "bad_request", "limit");

  // Every entrant now has its place and, nobody being admitted, the position of that place.
  for (const std::string& t : tickets) {
    HttpResponse r = server.GetTicket("sale", t);
    json::value v = r.Json();
    EXPECT_EQ(Str(v, "status"), "waiting") << r;
    EXPECT_EQ(Str(v, "entry_id"), EntryId(t)) << r;
    long long place =
        std::find(published.begin(), published.end(), EntryId(t)) - published.begin() + 1;
    EXPECT_EQ(Int(v, "place"), place) << r;
    EXPECT_EQ(Int(v, "position"), place) << r;
  }
  // A join after the draw is an ordinary ticket behind every entrant.
  HttpResponse later = server.Join("sale");
  ASSERT_EQ(later.status, 201) << later;
  EXPECT_EQ(Str(later.Json(), "status"), "waiting") << later;
  EXPECT_EQ(Int(later.Json(), "position"), 8) << later;
  EXPECT_EQ(Field(later.Json(), "entry_id"), nullptr) << later;

  // The schedule is locked after the draw.
  ExpectRefusal(server.PutQueue("sale", {{"opens_at", NowS() + 600}}), 409, "schedule_locked",
                "draw");
  ExpectRefusal(server.PutQueue("sale", {{"prequeue_at", opens - 10}}), 409, "schedule_locked",
                "draw");
  HttpResponse q = server.GetQueue("sale");
  EXPECT_EQ(Str(At(q.Json(), {"draw"}), "state"), "drawn") << q;
  EXPECT_EQ(IntAt(q.Json(), {"draw", "entrants"}), 7) << q;
}

TEST(OnSale, LotteryTicketsShowNoPosition) {
  AnteroomProcess server;
  server.MustPutQueue("raffle", {{"mode", "random"}, {"max_active", 0}});
  for (int i = 0; i < 2; ++i) ASSERT_FALSE(server.MustJoin("raffle").empty());
  HttpResponse j = server.Join("raffle");
  ASSERT_EQ(j.status, 201) << j;
  json::value v = j.Json();
  EXPECT_EQ(Str(v, "status"), "waiting") << j;
  EXPECT_EQ(Bool(v, "lottery"), true) << j;
  EXPECT_EQ(Int(v, "waiting"), 3) << j;
  // No capacity (max_active 0): the wait is unknown.
  EXPECT_EQ(Int(v, "eta_min_s"), -1) << j;
  EXPECT_EQ(Int(v, "eta_max_s"), -1) << j;
  EXPECT_EQ(Field(v, "position"), nullptr) << j;
  // Back to fifo: positions again.
  server.MustPutQueue("raffle", {{"mode", "fifo"}});
  HttpResponse t = server.GetTicket("raffle", Str(v, "ticket"));
  EXPECT_EQ(Int(t.Json(), "position"), 3) << t;
  EXPECT_EQ(Field(t.Json(), "lottery"), nullptr) << t;
}

TEST(OnSale, RejectModeShowsTheMessageAndClosesAtCloses) {
  AnteroomProcess server;
  const std::string msg = "Sold out \xe2\x80\x94 thank you!\nSee \"news\".";
  server.MustPutQueue("shop", {{"mode", "reject"}, {"message", msg}});
  HttpResponse q = server.GetQueue("shop");
  EXPECT_EQ(Str(At(q.Json(), {"config"}), "message"), msg) << q;
  EXPECT_EQ(Str(At(q.Json(), {"config"}), "mode"), "reject") << q;
  HttpResponse refused = server.Join("shop");
  EXPECT_EQ(refused.status, 403) << refused;
  EXPECT_EQ(refused.ErrorCode(), "joins_refused") << refused;
  EXPECT_EQ(Str(refused.Json(), "queue_message"), msg) << refused;
  EXPECT_EQ(SumMetric(server.Metrics().body, "joins_refused_total{reason=\"joins_refused\"}"), 1);

  // Joins again; then closes_at closes the queue: joins get 410. (Two seconds ahead: at least
  // one whole second for the join below to land before it.)
  long long closes = NowS() + 2;
  server.MustPutQueue("shop", {{"mode", "fifo"}, {"max_active", 0}, {"closes_at", closes}});
  std::string t = server.MustJoin("shop");
  ASSERT_FALSE(t.empty());
  bool closed = PollUntil([&] { return Bool(server.GetQueue("shop").Json(), "closed") == true; },
                          DeadlineIn(kPatience));
  ASSERT_TRUE(closed) << server.GetQueue("shop");
  HttpResponse late = server.Join("shop");
  EXPECT_EQ(late.status, 410) << late;
  EXPECT_EQ(late.ErrorCode(), "queue_closed") << late;
  EXPECT_EQ(Int(late.Json(), "closes_at"), closes) << late;
  HttpResponse ended = server.GetTicket("shop", t);
  EXPECT_EQ(Str(ended.Json(), "status"), "ended") << ended;
  EXPECT_EQ(Str(ended.Json(), "reason"), "closed") << ended;
}

}  // namespace
}  // namespace anteroom::testing
