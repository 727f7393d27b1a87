// The visitor's live event stream: initial state, position updates, reconnects, heartbeats.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

TEST(Events, ConnectSendsRetryAndCurrentStateAtOnce) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  server.MustJoin("line");
  std::string b = server.MustJoin("line");
  auto stream = server.Events("line", b);
  ASSERT_EQ(stream->status(), 200) << stream->error_body();
  EXPECT_EQ(stream->Header("Content-Type").rfind("text/event-stream", 0), 0u)
      << stream->Header("Content-Type");

  // Nothing changes in the queue, so whatever arrives is the state sent on connect.
  auto first = stream->Next();
  ASSERT_TRUE(first) << "no event on connect; received: " << stream->raw();
  EXPECT_EQ(first->event, "position") << first->Describe();
  EXPECT_GE(EventSeq(*first), 0);
  json::value data = first->Json();
  EXPECT_EQ(Int(data, "position"), 2) << first->Describe();
  EXPECT_TRUE(Num(data, "eta_s").has_value()) << first->Describe();
  EXPECT_EQ(Bool(data, "paused"), false) << first->Describe();
  ASSERT_FALSE(stream->retries().empty()) << "no retry: before the first event: " << stream->raw();
  EXPECT_EQ(stream->retries().front(), 2000) << stream->raw();
}

TEST(Events, PositionMovesUpAsPeopleAheadLeave) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string t1 = server.MustJoin("line");
  std::string t2 = server.MustJoin("line");
  std::string t3 = server.MustJoin("line");
  auto stream = server.Events("line", t3);
  ASSERT_EQ(stream->status(), 200) << stream->error_body();
  auto initial = stream->Next();
  ASSERT_TRUE(initial) << stream->raw();
  ASSERT_EQ(initial->event, "position") << initial->Describe();
  EXPECT_EQ(Int(initial->Json(), "position"), 3) << initial->Describe();
  long long seq = EventSeq(*initial);

  long long expected = 2;
  for (const std::string& leaver : {t1, t2}) {
    HttpResponse left = server.Leave("line", leaver);
    ASSERT_EQ(left.status, 200) << left;
    // Skip repeats of the old position; the first change must be exactly one step.
    auto e = stream->WaitFor([&](const SseEvent& ev) {
      return ev.event != "position" || Int(ev.Json(), "position") != expected + 1;
    });
    ASSERT_TRUE(e) << "no position change after a leave; received: " << stream->raw();
    EXPECT_EQ(e->event, "position") << e->Describe();
    EXPECT_EQ(Int(e->Json(), "position"), expected) << e->Describe();
    long long next_seq = EventSeq(*e);
    EXPECT_GT(next_seq, seq) << "event ids must grow: " << e->Describe();
    seq = next_seq;
    --expected;
  }
}

TEST(Events, ReconnectWithLastEventIdGetsCurrentStateAtOnce) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string t1 = server.MustJoin("line");
  std::string t2 = server.MustJoin("line");
  auto stream = server.Events("line", t2);
  auto initial = stream->Next();
  ASSERT_TRUE(initial) << stream->raw();
  EXPECT_EQ(Int(initial->Json(), "position"), 2) << initial->Describe();
  long long seen = EventSeq(*initial);
  stream->Close();

  ASSERT_EQ(server.Leave("line", t1).status, 200);  // happens while t2 is disconnected

  auto resumed = server.Events("line", t2, initial->id);
  ASSERT_EQ(resumed->status(), 200) << resumed->error_body();
  auto now = resumed->Next();
  ASSERT_TRUE(now) << resumed->raw();
  EXPECT_EQ(now->event, "position") << now->Describe();
  EXPECT_EQ(Int(now->Json(), "position"), 1) << now->Describe();
  EXPECT_GT(EventSeq(*now), seen) << now->Describe();

  // An id the server never issued is no reason to refuse the visitor.
  auto odd = server.Events("line", t2, "not-an-id");
  ASSERT_EQ(odd->status(), 200) << odd->error_body();
  auto odd_first = odd->Next();
  ASSERT_TRUE(odd_first) << odd->raw();
  EXPECT_EQ(Int(odd_first->Json(), "position"), 1) << odd_first->Describe();

  // Reconnecting with the newest id still gets the current state at once.
  auto again = server.Events("line", t2, now->id);
  auto same = again->Next();
  ASSERT_TRUE(same) << again->raw();
  EXPECT_EQ(same->event, "position") << same->Describe();
  EXPECT_EQ(Int(same->Json(), "position"), 1) << same->Describe();
}

// What the server promises for Last-Event-ID (docs/api.md; src/hub: a stream starts from the
// store's current state, Hub::start): a stream is a state, not a log. A visitor coming back with
// the id it last saw gets, at once, the state as it is now — with an id above the one it sent,
// when anything happened meanwhile — and never a replay of the states it missed, nor anything
// older than what it saw. The id it sends changes nothing: with it, without it, or with a
// made-up one, the first event is the same. A server that replayed missed events from the given
// id, skipped the current state because the visitor "has seen" it, or went back to an older
// state, fails here.
TEST(Events, LastEventIdResumesAtTheCurrentStateWithoutReplayingMissedOnes) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}, {"admit_per_s", 100}});
  std::string t1 = server.MustJoin("line");
  std::string t2 = server.MustJoin("line");
  std::string t3 = server.MustJoin("line");
  auto stream = server.Events("line", t3);
  auto seen = WaitForPosition(*stream, 3);
  ASSERT_TRUE(seen) << stream->raw();
  stream->Close();

  // While the visitor is away, it moves to 2 and then to 1.
  ASSERT_EQ(server.Leave("line", t1).status, 200);
  ASSERT_EQ(server.Leave("line", t2).status, 200);

  auto resumed = server.Events("line", t3, seen->id);
  ASSERT_EQ(resumed->status(), 200) << resumed->error_body();
  auto now = resumed->Next();
  ASSERT_TRUE(now) << resumed->raw();
  EXPECT_EQ(now->event, "position") << now->Describe();
  EXPECT_EQ(Int(now->Json(), "position"), 1) << "the first event after a resume must be the "
                                                "current state, not a replay: "
                                             << resumed->raw();
  EXPECT_GT(EventSeq(*now), EventSeq(*seen)) << now->Describe();

  // The same first event with no id, and with an id the server never issued.
  for (const auto& id : {std::optional<std::string>(), std::optional<std::string>("x-17")}) {
    auto other = server.Events("line", t3, id);
    auto first = other->Next();
    ASSERT_TRUE(first) << other->raw();
    EXPECT_EQ(first->event, now->event) << first->Describe();
    EXPECT_EQ(first->id, now->id) << first->Describe();
    EXPECT_EQ(Int(first->Json(), "position"), 1) << first->Describe();
  }

  // The stream goes on from there to the admission, and nothing else comes in between: the
  // missed position 2 is never sent, nor anything at or below the id the visitor gave (a
  // config change may repeat the current position 1).
  server.MustPutQueue("line", {{"max_active", 1}});
  auto admitted = resumed->WaitFor("admitted");
  ASSERT_TRUE(admitted) << resumed->raw();
  EXPECT_GT(EventSeq(*admitted), EventSeq(*now)) << resumed->raw();
  for (const SseEvent& e : resumed->history()) {
    EXPECT_GT(EventSeq(e), EventSeq(*seen)) << e.Describe();
    if (e.event == "position") {
      EXPECT_EQ(Int(e.Json(), "position"), 1) << e.Describe();
    }
  }

  // Coming back with the id of the admission itself still gets the admission (the current
  // state), at once: the id is no reason to send nothing.
  auto again = server.Events("line", t3, admitted->id);
  auto first = again->Next();
  ASSERT_TRUE(first) << again->raw();
  EXPECT_EQ(first->event, "admitted") << first->Describe();
  EXPECT_EQ(first->id, admitted->id) << first->Describe();
  EXPECT_EQ(Str(first->Json(), "token"), Str(admitted->Json(), "token")) << first->Describe();
}

TEST(Events, HeartbeatCommentsKeepTheStreamAlive) {
  AnteroomProcess server({"--heartbeat-s", "1"});
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string t = server.MustJoin("line");
  auto stream = server.Events("line", t);
  ASSERT_EQ(stream->status(), 200) << stream->error_body();
  EXPECT_TRUE(stream->WaitForComments(1, DeadlineIn(std::chrono::seconds(5))))
      << "no comment heartbeat within 5 s with --heartbeat-s 1; received: " << stream->raw();
  EXPECT_FALSE(stream->closed());
}

TEST(Events, UnknownTicketStreamIs404Json) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  SseClient stream(server.port(), AnteroomProcess::EventsPath("line", "AAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_EQ(stream.status(), 404) << stream.error_body();
  HttpResponse as_response{stream.status(), {}, stream.error_body()};
  EXPECT_EQ(as_response.ErrorCode(), "ticket_not_found") << stream.error_body();
}

TEST(Events, LeavingEndsTheStream) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string t = server.MustJoin("line");
  auto stream = server.Events("line", t);
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();
  ASSERT_EQ(server.Leave("line", t).status, 200);
  auto ended = stream->WaitFor("ended");
  ASSERT_TRUE(ended) << stream->raw();
  EXPECT_EQ(Str(ended->Json(), "reason"), "left") << ended->Describe();
  EXPECT_TRUE(stream->WaitClosed());
}

TEST(Events, StreamOfAnEndedTicketSaysEndedAndCloses) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string t = server.MustJoin("line");
  ASSERT_EQ(server.Leave("line", t).status, 200);
  auto stream = server.Events("line", t);
  ASSERT_EQ(stream->status(), 200) << stream->error_body();
  auto first = stream->Next();
  ASSERT_TRUE(first) << stream->raw();
  EXPECT_EQ(first->event, "ended") << first->Describe();
  EXPECT_EQ(Str(first->Json(), "reason"), "left") << first->Describe();
  EXPECT_TRUE(stream->WaitClosed());
}

// Visitors further back than 100 get at most one position event a second, always the latest.
TEST(Events, FarBackPositionsAreCoalescedToTheLatest) {
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::vector<std::string> tickets;
  for (int i = 0; i < 130; ++i) tickets.push_back(server.MustJoin("line"));
  auto stream = server.Events("line", tickets.back());
  ASSERT_TRUE(WaitForPosition(*stream, 130)) << stream->raw();
  std::size_t initial_events = stream->history().size();

  for (int i = 0; i < 10; ++i) ASSERT_EQ(server.Leave("line", tickets[i]).status, 200);
  ASSERT_TRUE(WaitForPosition(*stream, 120))
      << "never shown the latest position; got: " << stream->raw();

  std::vector<SseEvent> changes(stream->history().begin() + initial_events,
                                stream->history().end());
  long long previous = 130;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].event, "position") << changes[i].Describe();
    long long pos = Int(changes[i].Json(), "position").value_or(-1);
    EXPECT_LT(pos, previous) << "positions must only move forward: " << changes[i].Describe();
    previous = pos;
    if (i > 0) {
      auto gap = changes[i].received - changes[i - 1].received;
      EXPECT_GE(gap, std::chrono::milliseconds(500))
          << "two position events less than a second apart for a visitor at ~125: "
          << changes[i - 1].Describe() << " then " << changes[i].Describe();
    }
  }
  EXPECT_LE(changes.size(), 3u) << "10 changes within milliseconds were not coalesced: "
                                << stream->raw();
}

// One ticket holds at most --streams-per-ticket (3) streams in a process: each newer stream ends
// the oldest with `event: replaced` and closes it; the newest stay and keep being told; the
// ticket keeps its place.
TEST(Events, ManyStreamsOnOneTicketKeepOnlyTheNewest) {
  constexpr int kOpened = 10, kKept = 3;
  AnteroomProcess server;
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string ahead = server.MustJoin("line");
  std::string t = server.MustJoin("line");
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < kOpened; ++i) {
    streams.push_back(server.Events("line", t));
    ASSERT_EQ(streams.back()->status(), 200)
        << "stream " << i << ": " << streams.back()->error_body();
    // Its first state is here, so it is attached (and has replaced any oldest) before the next
    // one opens: the order of arrival is the order of this loop.
    auto first = streams.back()->Next();
    ASSERT_TRUE(first) << "stream " << i << ": " << streams.back()->raw();
    EXPECT_EQ(first->event, "position") << first->Describe();
  }
  for (int i = 0; i < kOpened - kKept; ++i) {
    auto replaced = streams[i]->WaitFor("replaced");
    ASSERT_TRUE(replaced) << "stream " << i << " was not replaced: " << streams[i]->raw();
    EXPECT_EQ(Str(replaced->Json(), "reason"), "replaced") << replaced->Describe();
    EXPECT_TRUE(replaced->id.empty())
        << "a replaced notice carries no id: " << replaced->Describe();
    EXPECT_TRUE(streams[i]->WaitClosed())
        << "stream " << i << " stayed open: " << streams[i]->raw();
  }
  // The ticket is still in line and its newest streams are still told: the one ahead leaves.
  EXPECT_EQ(server.Leave("line", ahead).status, 200);
  for (int i = kOpened - kKept; i < kOpened; ++i) {
    auto moved = WaitForPosition(*streams[i], 1);
    ASSERT_TRUE(moved) << "stream " << i << ": " << streams[i]->raw();
    EXPECT_FALSE(streams[i]->closed()) << "stream " << i << ": " << streams[i]->raw();
    for (const auto& e : streams[i]->history())
      EXPECT_NE(e.event, "replaced") << "stream " << i << ": " << streams[i]->raw();
  }
  // /metrics agrees: kKept open (the replaced ones forgotten), kOpened - kKept replaced.
  HttpResponse m;
  bool agreed = PollUntil(
      [&] {
        m = server.Metrics();
        return Sample(m.body, "anteroom_sse_streams") == kKept &&
               Sample(m.body, "anteroom_http_event_streams") == kKept;
      },
      DeadlineIn(kPatience), std::chrono::milliseconds(20));
  EXPECT_TRUE(agreed) << m.body;
  EXPECT_EQ(Sample(m.body, "anteroom_sse_streams_replaced_total"), kOpened - kKept) << m.body;
}

// --streams-per-ticket sets how many: with 1, every new stream replaces the previous one.
TEST(Events, StreamsPerTicketIsASetting) {
  AnteroomProcess server({"--streams-per-ticket", "1"});
  server.MustPutQueue("line", {{"max_active", 0}});
  std::string t = server.MustJoin("line");
  auto older = server.Events("line", t);
  ASSERT_TRUE(older->Next()) << older->raw();
  auto newer = server.Events("line", t);
  ASSERT_TRUE(newer->Next()) << newer->raw();
  ASSERT_TRUE(older->WaitFor("replaced")) << older->raw();
  EXPECT_TRUE(older->WaitClosed()) << older->raw();
  EXPECT_FALSE(newer->closed()) << newer->raw();
}

}  // namespace
}  // namespace anteroom::testing
