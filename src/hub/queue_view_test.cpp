#include "hub/queue_view.hpp"

#include <gtest/gtest.h>

namespace anteroom {
namespace {

Event ev(uint64_t seq, EventType type, uint64_t order = 0) {
  Event e;
  e.queue = "q";
  e.seq = seq;
  e.type = type;
  e.order = order;
  e.ticket = "t" + std::to_string(order);
  return e;
}

// Receives and applies what is next in order, as the hub does; returns the step.
QueueView::Step feed(QueueView& v, const Event& e) {
  auto step = v.receive(e);
  if (step == QueueView::Step::apply) v.apply(e);
  return step;
}

TEST(QueueView, AppliesEventsInSeqOrder) {
  QueueView v;
  EXPECT_EQ(feed(v, ev(1, EventType::joined, 10)), QueueView::Step::apply);
  EXPECT_EQ(feed(v, ev(2, EventType::joined, 11)), QueueView::Step::apply);
  EXPECT_EQ(feed(v, ev(3, EventType::joined, 12)), QueueView::Step::apply);
  EXPECT_EQ(feed(v, ev(4, EventType::left, 11)), QueueView::Step::apply);
  EXPECT_EQ(v.seq(), 4u);
  EXPECT_EQ(v.line().size(), 2);
  EXPECT_EQ(v.line().rank(12), 2);
  EXPECT_FALSE(v.line().contains(11));
}

TEST(QueueView, DropsDuplicates) {
  QueueView v;
  feed(v, ev(1, EventType::joined, 10));
  feed(v, ev(2, EventType::joined, 11));
  EXPECT_EQ(feed(v, ev(2, EventType::joined, 11)), QueueView::Step::duplicate);
  EXPECT_EQ(feed(v, ev(1, EventType::left, 10)), QueueView::Step::duplicate);
  EXPECT_EQ(v.seq(), 2u);
  EXPECT_EQ(v.line().size(), 2);  // the duplicate `left` changed nothing
}

// A queue closed, forgotten by the store and made again under its name: the store goes on with
// its seq (store/README.md, Forgetting), so the view takes the new queue's events as the next
// ones: reopened, its line starts from the new joins (the closed line's orders are gone).
TEST(QueueView, AQueueMadeAgainAfterItWasForgottenGoesOnInSeqOrder) {
  QueueView v;
  feed(v, ev(1, EventType::config_changed));
  feed(v, ev(2, EventType::joined, 1));
  feed(v, ev(3, EventType::joined, 2));
  feed(v, ev(4, EventType::closed));
  ASSERT_TRUE(v.closed());
  // The new queue: its orders start again at 1, its seq does not.
  EXPECT_EQ(feed(v, ev(5, EventType::config_changed)), QueueView::Step::apply);
  EXPECT_FALSE(v.closed());
  EXPECT_EQ(v.line().size(), 0);
  EXPECT_EQ(feed(v, ev(6, EventType::joined, 1)), QueueView::Step::apply);
  EXPECT_EQ(v.line().rank(1), 1);
  EXPECT_EQ(v.seq(), 6u);
  // What a store restarting the seq would send is, to the view, old news: dropped.
  EXPECT_EQ(feed(v, ev(1, EventType::config_changed)), QueueView::Step::duplicate);
}

TEST(QueueView, GapAsksForAReloadAndBufferedEventsFollowTheSnapshot) {
  QueueView v;
  feed(v, ev(1, EventType::joined, 10));
  // seq 2 and 3 are lost: 4 shows the gap.
  EXPECT_EQ(v.receive(ev(4, EventType::joined, 13)), QueueView::Step::gap);
  EXPECT_EQ(v.seq(), 1u);
  EXPECT_FALSE(v.line().contains(13));  // not applied
  v.begin_reload();
  EXPECT_TRUE(v.loading());
  // While the snapshot loads, everything is kept (out of order too).
  EXPECT_EQ(v.receive(ev(6, EventType::left, 11)), QueueView::Step::buffered);
  EXPECT_EQ(v.receive(ev(5, EventType::joined, 14)), QueueView::Step::buffered);

  QueueSnapshot snap;  // the store at seq 3: orders 10, 11, 12 waiting
  snap.info.seq = 3;
  snap.info.config.admit_per_s = 7;
  snap.waiting_orders = {10, 11, 12};
  auto buffered = v.load(snap);
  EXPECT_FALSE(v.loading());
  EXPECT_EQ(v.seq(), 3u);
  EXPECT_TRUE(v.known());
  EXPECT_EQ(v.config().admit_per_s, 7);
  EXPECT_TRUE(v.take_moved().all);  // every stream is looked at again
  ASSERT_EQ(buffered.size(), 3u);
  EXPECT_EQ(buffered[0].seq, 4u);
  EXPECT_EQ(buffered[1].seq, 5u);
  EXPECT_EQ(buffered[2].seq, 6u);
  for (auto& e : buffered) EXPECT_EQ(feed(v, e), QueueView::Step::apply);
  EXPECT_EQ(v.seq(), 6u);
  EXPECT_EQ(v.line().size(), 4);  // 10, 12, 13, 14
  EXPECT_EQ(v.line().rank(14), 4);
  EXPECT_FALSE(v.line().contains(11));
}

TEST(QueueView, ANewGapAfterTheSnapshotAsksAgain) {
  QueueView v;
  EXPECT_EQ(v.receive(ev(3, EventType::joined, 3)), QueueView::Step::gap);
  v.begin_reload();
  EXPECT_EQ(v.receive(ev(7, EventType::joined, 7)), QueueView::Step::buffered);
  QueueSnapshot snap;
  snap.info.seq = 4;
  auto buffered = v.load(snap);
  ASSERT_EQ(buffered.size(), 2u);
  EXPECT_EQ(v.receive(buffered[0]), QueueView::Step::duplicate);  // seq 3 ≤ 4
  EXPECT_EQ(v.receive(buffered[1]), QueueView::Step::gap);        // 5 and 6 are missing
}

TEST(QueueView, MovedRangeFollowsWhatAnEventCanMove) {
  QueueView v;
  for (uint64_t s = 1; s <= 5; ++s) feed(v, ev(s, EventType::joined, 100 + s));
  // Joins move nobody ahead of them: the range starts at the newest joiner.
  EXPECT_EQ(v.take_moved().from, 101u);  // (the first join, as the first batch saw)
  feed(v, ev(6, EventType::joined, 106));
  auto m = v.take_moved();
  EXPECT_EQ(m.from, 106u);
  EXPECT_FALSE(m.all);
  // Leaving at 103 moves 104.. only; admission from the head moves everybody behind it.
  feed(v, ev(7, EventType::left, 103));
  EXPECT_EQ(v.take_moved().from, 103u);
  feed(v, ev(8, EventType::admitted, 101));
  feed(v, ev(9, EventType::abandoned, 105));
  EXPECT_EQ(v.take_moved().from, 101u);  // a batch: the lowest
  // Sessions ending move nobody in the line.
  feed(v, ev(10, EventType::expired, 101));
  feed(v, ev(11, EventType::completed, 101));
  EXPECT_FALSE(v.take_moved().any());
  // A config change refreshes everybody (once the hub has read the new config).
  feed(v, ev(12, EventType::config_changed));
  EXPECT_FALSE(v.moved().any());
  v.refresh_all();
  EXPECT_TRUE(v.take_moved().all);
  EXPECT_FALSE(v.moved().any());
}

Event drawn(uint64_t seq, uint64_t base, int64_t n) {
  Event e = ev(seq, EventType::drawn, base);
  e.ticket.clear();
  e.expires_ms = n;  // (the wire's "exp": the number of entrants)
  e.at_ms = 1'700'000'000'000;
  return e;
}

QueueConfig scheduled() {
  QueueConfig c;
  c.opens_at = 1'700'000'000;
  return c;
}

// Before the draw every waiting ticket is an entrant: `entered` counts one, its `left` takes it
// off. An admitted visitor (from before the schedule) leaving then is no entrant. Nobody has a
// position, so nothing moves.
TEST(QueueView, EnteredCountsEntrantsAndALeaveBeforeTheDrawTakesOneOff) {
  QueueView v;
  feed(v, ev(1, EventType::config_changed));
  v.configure(scheduled());
  v.take_moved();
  EXPECT_EQ(v.draw().state, DrawState::prequeue);
  EXPECT_EQ(v.draw().entrants, 0);
  for (uint64_t s = 2; s <= 6; ++s) feed(v, ev(s, EventType::entered, 20 + s));  // orders 22..26
  EXPECT_EQ(v.draw().entrants, 5);
  feed(v, ev(7, EventType::left, 24));
  EXPECT_EQ(v.draw().entrants, 4);
  feed(v, ev(8, EventType::left, 24));  // (a store never sends it twice; counted once anyway)
  feed(v, ev(9, EventType::left, 3));   // an admitted visitor leaving: not an entrant
  EXPECT_EQ(v.draw().entrants, 4);
  EXPECT_EQ(v.line().size(), 0);
  EXPECT_FALSE(v.take_moved().any());
  EXPECT_EQ(v.seq(), 9u);
}

// `drawn` (order = base, n entrants): the line holds base+1..base+n, every stream is looked at
// again; after it the entrants are ordinary waiting tickets (a leave moves the ones behind) and
// later joins go behind them.
TEST(QueueView, DrawnPutsTheEntrantsIntoTheLineAndMovesEverybody) {
  QueueView v;
  feed(v, ev(1, EventType::config_changed));
  v.configure(scheduled());
  for (uint64_t s = 2; s <= 5; ++s) feed(v, ev(s, EventType::entered, s));
  feed(v, ev(6, EventType::left, 3));  // 3 entrants remain
  v.take_moved();
  EXPECT_EQ(feed(v, drawn(7, 100, 3)), QueueView::Step::apply);
  EXPECT_EQ(v.draw().state, DrawState::drawn);
  EXPECT_EQ(v.draw().base, 100u);
  EXPECT_EQ(v.draw().entrants, 3);
  EXPECT_EQ(v.draw().seq, 7u);
  EXPECT_EQ(v.draw().drawn_at_ms, 1'700'000'000'000);
  EXPECT_TRUE(v.take_moved().all);
  EXPECT_EQ(v.line().size(), 3);
  for (int64_t p = 1; p <= 3; ++p) EXPECT_EQ(v.line().rank(100 + p), p);
  EXPECT_FALSE(v.line().contains(2));      // arrival orders are not places
  feed(v, ev(8, EventType::joined, 104));  // a post-open join: behind every entrant
  EXPECT_EQ(v.line().rank(104), 4);
  v.take_moved();
  feed(v, ev(9, EventType::left, 102));  // an entrant leaving after the draw: as any ticket
  EXPECT_EQ(v.draw().entrants, 3);       // (the draw's count stays)
  EXPECT_EQ(v.take_moved().from, 102u);
  EXPECT_EQ(v.line().rank(103), 2);
  feed(v, ev(10, EventType::admitted, 101));
  EXPECT_EQ(v.line().rank(104), 2);
}

// A reload takes the draw from the snapshot: the pre-queue's count (its entrants' orders are
// unknown then, so any leave before the draw counts), or the drawn state with the waiting
// entrants already in waiting_orders.
TEST(QueueView, SnapshotSetsTheEntrantsAndTheDraw) {
  QueueView v;
  EXPECT_EQ(v.receive(ev(5, EventType::entered, 5)), QueueView::Step::gap);
  v.begin_reload();
  QueueSnapshot snap;
  snap.info.seq = 8;
  snap.info.config = scheduled();
  snap.info.draw.state = DrawState::prequeue;
  snap.info.draw.entrants = 7;
  auto buffered = v.load(snap);
  EXPECT_EQ(v.draw().state, DrawState::prequeue);
  EXPECT_EQ(v.draw().entrants, 7);
  EXPECT_EQ(feed(v, ev(9, EventType::left, 4)), QueueView::Step::apply);
  EXPECT_EQ(v.draw().entrants, 6);
  EXPECT_EQ(feed(v, ev(10, EventType::entered, 11)), QueueView::Step::apply);
  EXPECT_EQ(v.draw().entrants, 7);

  QueueView w;
  w.begin_reload();
  QueueSnapshot drawn_snap;  // drawn at base 100 with 5 entrants; places 1 and 4 gone
  drawn_snap.info.seq = 40;
  drawn_snap.info.config = scheduled();
  drawn_snap.info.draw.state = DrawState::drawn;
  drawn_snap.info.draw.entrants = 5;
  drawn_snap.info.draw.base = 100;
  drawn_snap.waiting_orders = {102, 103, 105, 106};  // 106: a post-open join
  w.load(drawn_snap);
  EXPECT_EQ(w.draw().state, DrawState::drawn);
  EXPECT_EQ(w.draw().entrants, 5);
  EXPECT_EQ(w.draw().base, 100u);
  EXPECT_EQ(w.draw().seq, 40u);
  EXPECT_EQ(w.line().rank(105), 3);
  EXPECT_EQ(w.line().rank(106), 4);
  EXPECT_TRUE(w.take_moved().all);
}

// Closed before opens_at: no draw (void). Reopened: a new epoch with no draw until it is
// scheduled again.
TEST(QueueView, ClosedBeforeTheDrawIsVoidAndAReopenStartsAgain) {
  QueueView v;
  feed(v, ev(1, EventType::config_changed));
  v.configure(scheduled());
  feed(v, ev(2, EventType::entered, 1));
  feed(v, ev(3, EventType::closed));
  EXPECT_EQ(v.draw().state, DrawState::void_);
  EXPECT_EQ(v.draw().entrants, 1);
  feed(v, ev(4, EventType::config_changed));
  EXPECT_EQ(v.draw().state, DrawState::none);
  EXPECT_EQ(v.draw().entrants, 0);
  v.configure(QueueConfig{});
  EXPECT_EQ(v.draw().state, DrawState::none);
  feed(v, ev(5, EventType::config_changed));
  v.configure(scheduled());
  EXPECT_EQ(v.draw().state, DrawState::prequeue);
}


// ---- Skip the line (SPEC §8): orders rules::kSkipOrder + n wait ahead of everyone.

constexpr uint64_t K = rules::kSkipOrder;

TEST(QueueView, SkippersAreAheadOfTheLineAndMoveEveryStream) {
  QueueView v;
  for (uint64_t s = 1; s <= 3; ++s) feed(v, ev(s, EventType::joined, 10 + s));  // 11, 12, 13
  v.take_moved();
  EXPECT_EQ(feed(v, ev(4, EventType::joined, K + 1)), QueueView::Step::apply);
  EXPECT_EQ(v.take_moved().from, 0u);  // everybody is one further back
  feed(v, ev(5, EventType::joined, K + 2));
  EXPECT_EQ(v.position(K + 1), 1);
  EXPECT_EQ(v.position(K + 2), 2);
  EXPECT_EQ(v.position(11), 3);
  EXPECT_EQ(v.position(13), 5);
  EXPECT_EQ(v.position(14), 0);  // not waiting
  EXPECT_TRUE(v.waiting(K + 2));
  EXPECT_FALSE(v.waiting(K + 3));
  EXPECT_EQ(v.waiting_count(), 5);
  EXPECT_EQ(v.line().size(), 3);  // the line's index never holds a skip order
  EXPECT_EQ(v.skip().size(), 2);
  v.take_moved();
  // A line join moves nobody ahead of it, skippers included.
  feed(v, ev(6, EventType::joined, 14));
  EXPECT_EQ(v.take_moved().from, 14u);
  EXPECT_EQ(v.position(14), 6);
  // The head skipper admitted: everyone moves up one.
  Event adm = ev(7, EventType::admitted, K + 1);
  adm.at_ms = 1000;
  feed(v, adm);
  EXPECT_EQ(v.take_moved().from, 0u);
  EXPECT_FALSE(v.waiting(K + 1));
  EXPECT_EQ(v.position(K + 2), 1);
  EXPECT_EQ(v.position(11), 2);
  // Its session ending moves nobody; the other skipper leaving moves everybody.
  feed(v, ev(8, EventType::completed, K + 1));
  EXPECT_FALSE(v.take_moved().any());
  feed(v, ev(9, EventType::abandoned, K + 2));
  EXPECT_EQ(v.take_moved().from, 0u);
  EXPECT_EQ(v.position(11), 1);
  EXPECT_EQ(v.waiting_count(), 4);
  // A leave at 12 moves those behind it only.
  feed(v, ev(10, EventType::left, 12));
  EXPECT_EQ(v.take_moved().from, 12u);
  EXPECT_EQ(v.position(13), 2);
  // Closed: nobody waits.
  feed(v, ev(11, EventType::joined, K + 3));
  feed(v, ev(12, EventType::closed));
  EXPECT_EQ(v.waiting_count(), 0);
  EXPECT_FALSE(v.waiting(K + 3));
  EXPECT_EQ(v.seq(), 12u);
}

// The snapshot lists every waiting order ascending (skip orders last): the view splits it.
TEST(QueueView, SnapshotSplitsSkippersFromTheLine) {
  QueueView v;
  EXPECT_EQ(v.receive(ev(9, EventType::joined, K + 9)), QueueView::Step::gap);
  v.begin_reload();
  QueueSnapshot snap;
  snap.info.seq = 8;
  snap.waiting_orders = {4, 5, 7, K + 2, K + 5};
  auto buffered = v.load(snap);
  EXPECT_EQ(v.line().size(), 3);
  EXPECT_EQ(v.skip().size(), 2);
  EXPECT_EQ(v.position(K + 5), 2);
  EXPECT_EQ(v.position(4), 3);
  EXPECT_EQ(v.position(7), 5);
  ASSERT_EQ(buffered.size(), 1u);
  EXPECT_EQ(feed(v, buffered[0]), QueueView::Step::apply);
  EXPECT_EQ(v.position(K + 9), 3);
  EXPECT_EQ(v.position(7), 6);
  // Skippers only, or nobody.
  snap.info.seq = 20;
  snap.waiting_orders = {K + 1};
  v.begin_reload();
  v.load(snap);
  EXPECT_EQ(v.line().size(), 0);
  EXPECT_EQ(v.position(K + 1), 1);
  snap.waiting_orders = {};
  v.begin_reload();
  v.load(snap);
  EXPECT_EQ(v.waiting_count(), 0);
}

// In the pre-queue skippers have positions; their ends are not entrants' (the count stays), and
// after the draw they are still ahead of the drawn entrants.
TEST(QueueView, SkippersInThePrequeueAreNotEntrants) {
  QueueView v;
  QueueConfig c;
  c.opens_at = 1'800'000'000;
  v.configure(c);
  ASSERT_EQ(v.draw().state, DrawState::prequeue);
  feed(v, ev(1, EventType::entered, 1));
  feed(v, ev(2, EventType::entered, 2));
  feed(v, ev(3, EventType::joined, K + 1));
  feed(v, ev(4, EventType::joined, K + 2));
  EXPECT_EQ(v.draw().entrants, 2);
  EXPECT_EQ(v.position(K + 2), 2);
  feed(v, ev(5, EventType::left, K + 1));
  EXPECT_EQ(v.draw().entrants, 2);  // a skipper, not an entrant, left
  EXPECT_EQ(v.position(K + 2), 1);
  feed(v, drawn(6, 2, 2));  // entrants at orders 3, 4
  EXPECT_EQ(v.position(K + 2), 1);
  EXPECT_EQ(v.position(3), 2);
  EXPECT_EQ(v.position(4), 3);
  feed(v, ev(7, EventType::admitted, K + 2));
  EXPECT_EQ(v.position(3), 1);
  EXPECT_EQ(v.draw().entrants, 2);
}

}  // namespace
}  // namespace anteroom
