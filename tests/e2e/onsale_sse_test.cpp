// The on-sale as the visitors' event streams show it (SPEC §7, docs/api.md "Event stream"), one
// embedded process (MemoryStore): the pre-queue's countdown and entrant count, each entrant's
// place at the draw (the same as GET shows), the operator's message, and the lottery of mode
// random.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

long long Now() { return static_cast<long long>(std::time(nullptr)); }

// Waits for a `prequeue` frame showing `entrants` (other frames are skipped).
std::optional<SseEvent> WaitForEntrants(SseClient& s, long long entrants) {
  return s.WaitFor([&](const SseEvent& e) {
    return e.event == "prequeue" && Int(e.Json(), "entrants") == entrants;
  });
}

// 20 entrants with open streams. Before the draw: a `prequeue` first frame (the entrants so
// far, the countdown, the visitor's own entry id), a new count for every stream when one more
// enters and when one leaves, the operator's message for every stream (and after the first
// frame of a stream opened later). At the draw: one `drawn` frame per stream whose places are
// 1..20 once each and equal to what GET shows the ticket.
TEST(OnSale, EntrantsSeeTheCountdownTheirPlaceAndTheMessage) {
  AnteroomProcess server;
  constexpr int kEntrants = 20;
  // opens_at far away while the crowd gathers (no race with the clock); moved near for the draw.
  long long opens_at = Now() + 3600;
  server.MustPutQueue("sale", {{"opens_at", opens_at}, {"max_active", 0}});

  std::vector<std::string> tickets, entry_ids;
  for (int i = 0; i < kEntrants; ++i) {
    HttpResponse r = server.Join("sale");
    ASSERT_EQ(r.status, 201) << r;
    json::value v = r.Json();
    ASSERT_EQ(Str(v, "status"), "prequeue") << r;
    ASSERT_EQ(Str(v, "entry_id").size(), 22u) << r;
    tickets.push_back(Str(v, "ticket"));
    entry_ids.push_back(Str(v, "entry_id"));
  }

  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < kEntrants; ++i) {
    streams.push_back(server.Events("sale", tickets[i]));
    ASSERT_EQ(streams[i]->status(), 200) << streams[i]->error_body();
    auto first = streams[i]->Next();
    ASSERT_TRUE(first) << streams[i]->raw();
    ASSERT_EQ(first->event, "prequeue") << first->Describe();
    json::value d = first->Json();
    EXPECT_EQ(Int(d, "opens_at"), opens_at) << first->Describe();
    EXPECT_GT(Int(d, "seconds_left").value_or(0), 0) << first->Describe();
    EXPECT_LE(Int(d, "seconds_left").value_or(0), 3600) << first->Describe();
    EXPECT_EQ(Int(d, "entrants"), kEntrants) << first->Describe();  // all joined before
    EXPECT_EQ(Str(d, "entry_id"), entry_ids[i]) << first->Describe();
  }

  // One more entrant, without a stream: every stream is told the new count (the broadcast:
  // no entry id), then the same when it leaves again.
  std::string extra = server.MustJoin("sale");
  for (auto& s : streams) {
    auto f = WaitForEntrants(*s, kEntrants + 1);
    ASSERT_TRUE(f) << s->raw();
    EXPECT_EQ(Str(f->Json(), "entry_id"), "") << f->Describe();
    EXPECT_EQ(Int(f->Json(), "opens_at"), opens_at) << f->Describe();
  }
  ASSERT_EQ(server.Leave("sale", extra).status, 200);
  for (auto& s : streams) ASSERT_TRUE(WaitForEntrants(*s, kEntrants)) << s->raw();

  // The operator's message reaches every stream, and a stream opened later after its first
  // frame.
  const std::string message = "Doors open at 10:00 \"sharp\"\nBe ready.";
  server.MustPutQueue("sale", {{"message", message}});
  for (auto& s : streams) {
    auto m = s->WaitFor("message");
    ASSERT_TRUE(m) << s->raw();
    EXPECT_EQ(Str(m->Json(), "message"), message) << m->Describe();
  }
  {
    auto late = server.Events("sale", tickets[0]);
    auto first = late->Next();
    ASSERT_TRUE(first) << late->raw();
    EXPECT_EQ(first->event, "prequeue") << first->Describe();
    auto second = late->Next();
    ASSERT_TRUE(second) << late->raw();
    EXPECT_EQ(second->event, "message") << second->Describe();
    EXPECT_EQ(Str(second->Json(), "message"), message) << second->Describe();
    late->Close();
  }

  // The draw: opens_at moved to the next second (allowed during the pre-queue).
  server.MustPutQueue("sale", {{"opens_at", Now() + 1}});
  std::vector<long long> places;
  for (int i = 0; i < kEntrants; ++i) {
    auto f = streams[i]->WaitFor("drawn");
    ASSERT_TRUE(f) << streams[i]->raw();
    json::value d = f->Json();
    long long place = Int(d, "place").value_or(-1);
    places.push_back(place);
    EXPECT_EQ(Int(d, "entrants"), kEntrants) << f->Describe();
    // Nobody admitted (max_active 0) and nobody gone: the place is the position.
    EXPECT_EQ(Int(d, "position"), place) << f->Describe();
    EXPECT_TRUE(Int(d, "eta_s").has_value()) << f->Describe();
    EXPECT_GE(EventSeq(*f), 0) << f->Describe();

    HttpResponse t = server.GetTicket("sale", tickets[i]);
    ASSERT_EQ(t.status, 200) << t;
    EXPECT_EQ(Str(t.Json(), "status"), "waiting") << t;
    EXPECT_EQ(Int(t.Json(), "place"), place) << t;
    EXPECT_EQ(Int(t.Json(), "position"), place) << t;
    EXPECT_EQ(Str(t.Json(), "entry_id"), entry_ids[i]) << t;
  }
  std::vector<long long> sorted = places;
  std::sort(sorted.begin(), sorted.end());
  std::vector<long long> expected(kEntrants);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(sorted, expected) << "places must be 1..20 once each";

  // After the draw the streams go on as usual: the entrant at place 1 leaving moves the others.
  int first = static_cast<int>(std::find(places.begin(), places.end(), 1) - places.begin());
  ASSERT_LT(first, kEntrants);
  ASSERT_EQ(server.Leave("sale", tickets[first]).status, 200);
  for (int i = 0; i < kEntrants; ++i) {
    if (i == first) continue;
    auto p = WaitForPosition(*streams[i], places[i] - 1);
    ASSERT_TRUE(p) << streams[i]->raw();
  }

  std::string metrics = server.Metrics().body;
  EXPECT_EQ(Sample(metrics, "anteroom_draw_entrants"), kEntrants) << metrics;
  EXPECT_GE(Sample(metrics, "anteroom_draw_places_ms_count").value_or(0), kEntrants) << metrics;
}

// Mode random: a waiting visitor is in a lottery, not at a position: its stream's first frame
// is `lottery` (everyone waiting, and the spread of the wait), never `position`.
TEST(OnSale, ModeRandomStreamsShowTheLottery) {
  AnteroomProcess server;
  server.MustPutQueue("raffle", {{"mode", "random"}, {"max_active", 0}, {"admit_per_s", 10}});
  std::vector<std::string> tickets;
  for (int i = 0; i < 3; ++i) tickets.push_back(server.MustJoin("raffle"));
  auto s = server.Events("raffle", tickets[2]);
  ASSERT_EQ(s->status(), 200) << s->error_body();
  auto first = s->Next();
  ASSERT_TRUE(first) << s->raw();
  ASSERT_EQ(first->event, "lottery") << first->Describe();
  EXPECT_EQ(Int(first->Json(), "waiting"), 3) << first->Describe();
  // max_active 0: nobody can be let in, the wait is unknown (as eta_s -1 for a position).
  EXPECT_EQ(Int(first->Json(), "eta_min_s"), -1) << first->Describe();
  EXPECT_EQ(Int(first->Json(), "eta_max_s"), -1) << first->Describe();

  // A leave changes the lottery: the new size, to every lottery stream (never a position).
  ASSERT_EQ(server.Leave("raffle", tickets[0]).status, 200);
  auto next = s->WaitFor([](const SseEvent& e) {
    return e.event != "lottery" || Int(e.Json(), "waiting") != 3;
  });
  ASSERT_TRUE(next) << s->raw();
  EXPECT_EQ(next->event, "lottery") << next->Describe();
  EXPECT_EQ(Int(next->Json(), "waiting"), 2) << next->Describe();

  // Back to fifo: positions again.
  server.MustPutQueue("raffle", {{"mode", "fifo"}});
  auto pos = WaitForPosition(*s, 2);
  ASSERT_TRUE(pos) << s->raw();
}

}  // namespace
}  // namespace anteroom::testing
