// The behaviour every QueueStore promises. Time is passed explicitly, so nothing here sleeps.
#include <map>
#include <set>

#include "store/conformance/harness.hpp"

namespace anteroom::conformance {
namespace {

constexpr Millis T0 = 1'700'000'000'000;

ConfigPatch cfg(double rate, int64_t max_active, bool paused = false) {
  ConfigPatch p;
  p.admit_per_s = rate;
  p.max_active = max_active;
  p.paused = paused;
  p.session_ttl_s = 60;
  p.abandon_after_s = 30;
  return p;
}

TEST_P(StoreConformance, UnknownQueueIsNotFound) {
  auto r = run(s().join("nope", "", T0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::queue_not_found);
  EXPECT_EQ(run(s().get_queue("nope")).error().code, Errc::queue_not_found);
}

TEST_P(StoreConformance, InvalidNameAndConfigAreRefused) {
  EXPECT_EQ(run(s().put_queue("Bad Name", {}, T0)).error().code, Errc::invalid_queue_name);
  ConfigPatch p;
  p.max_active = -3;
  EXPECT_EQ(run(s().put_queue("q", p, T0)).error().code, Errc::bad_request);
  EXPECT_EQ(run(s().get_queue("q")).error().code, Errc::queue_not_found);
}

TEST_P(StoreConformance, PutCreatesThenPatches) {
  auto a = run(s().put_queue("q", cfg(5, 10), T0));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->config.admit_per_s, 5);
  ConfigPatch p;
  p.target_url = "https://shop.example/";
  p.webhooks = std::vector<WebhookTarget>{{"http://127.0.0.1:9/hook", "s3cret"},
                                          {"https://tickets.example/anteroom", ""}};
  auto b = run(s().put_queue("q", p, T0));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->config.webhooks, *p.webhooks);
  EXPECT_EQ(run(s().get_queue("q"))->config.webhooks, *p.webhooks);
  EXPECT_EQ(b->config.admit_per_s, 5);
  EXPECT_EQ(b->config.max_active, 10);
  EXPECT_EQ(b->config.target_url, "https://shop.example/");
  EXPECT_GT(b->seq, a->seq);
  auto all = run(s().list_queues());
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].name, "q");
  ASSERT_TRUE(run(s().put_queue("a", {}, T0)).ok());
  EXPECT_EQ(run(s().queue_names()).value(), (std::vector<std::string>{"a", "q"}));
}

// The edge answers 201 or 200 from `created`, with no read before the write.
TEST_P(StoreConformance, PutSaysWhetherItCreated) {
  auto a = run(s().put_queue("q", cfg(5, 10), T0));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->created);
  auto b = run(s().put_queue("q", cfg(6, 10), T0));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->created);
  EXPECT_EQ(b->config.admit_per_s, 6);
  // Reopening a closed queue is not creating it.
  ASSERT_TRUE(run(s().close_queue("q", T0 + 1)).ok());
  auto c = run(s().put_queue("q", {}, T0 + 2));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->created);
  EXPECT_FALSE(c->closed);
  // A refused creation creates nothing.
  EXPECT_FALSE(run(s().put_queue("Bad Name", {}, T0)).ok());
  auto d = run(s().put_queue("r", {}, T0));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->created);
}

TEST_P(StoreConformance, JoinsGetPositionsOneToN) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  std::set<std::string> ids;
  for (int i = 1; i <= 20; ++i) {
    auto t = run(s().join("q", "", T0 + i));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->state, TicketState::waiting);
    EXPECT_EQ(t->position, i);
    EXPECT_EQ(t->id.size(), 22u);
    ids.insert(t->id);
  }
  EXPECT_EQ(ids.size(), 20u);
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->stats.waiting, 20);
  EXPECT_EQ(info->stats.oldest_joined_ms, T0 + 1);
}

TEST_P(StoreConformance, RejoinWithSameKeyKeepsThePlace) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  auto a = run(s().join("q", "u:alice", T0));
  auto b = run(s().join("q", "u:bob", T0));
  auto a2 = run(s().join("q", "u:alice", T0 + 5));
  ASSERT_TRUE(a2.ok());
  EXPECT_TRUE(a->created);
  EXPECT_FALSE(a2->created);
  EXPECT_EQ(a2->id, a->id);
  EXPECT_EQ(a2->position, 1);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 2);
  // After leaving, the same key joins anew at the back.
  ASSERT_TRUE(run(s().leave("q", a->id, T0 + 6)).ok());
  auto a3 = run(s().join("q", "u:alice", T0 + 7));
  EXPECT_NE(a3->id, a->id);
  EXPECT_EQ(a3->position, 2);
  (void)b;
}

TEST_P(StoreConformance, LeaveShiftsThoseBehind) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(run(s().join("q", "", T0))->id);
  auto left = run(s().leave("q", ids[1], T0 + 1));
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->state, TicketState::ended);
  EXPECT_EQ(left->reason, EndReason::left);
  EXPECT_EQ(run(s().get_ticket("q", ids[0], false, T0))->position, 1);
  EXPECT_EQ(run(s().get_ticket("q", ids[2], false, T0))->position, 2);
  EXPECT_EQ(run(s().get_ticket("q", ids[4], false, T0))->position, 4);
  // Leaving twice is harmless.
  EXPECT_EQ(run(s().leave("q", ids[1], T0 + 2))->reason, EndReason::left);
  EXPECT_EQ(run(s().get_queue("q"))->stats.left_total, 1);
  EXPECT_EQ(run(s().get_ticket("q", "AAAAAAAAAAAAAAAAAAAAAA", false, T0)).error().code,
            Errc::ticket_not_found);
}

TEST_P(StoreConformance, AdmissionIsFifoWithinCapacity) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(10, 3), T0)).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(run(s().join("q", "", T0 + 1))->id);
  // While nobody waited and there was room, joiners went straight in: capacity 3.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(run(s().get_ticket("q", ids[i], false, T0))->state, TicketState::active);
  for (int i = 3; i < 6; ++i)
    EXPECT_EQ(run(s().get_ticket("q", ids[i], false, T0))->position, i - 2);
  EXPECT_EQ(run(s().get_ticket("q", ids[1], false, T0))->expires_ms, T0 + 1 + 60'000);
  // Full: nobody more, however long we wait.
  EXPECT_EQ(run(s().tick("q", T0 + 5000)).value(), 0);
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->stats.active, 3);
  EXPECT_EQ(info->stats.waiting, 3);
  EXPECT_EQ(info->stats.admitted_total, 3);
  // Completing frees a slot for the head of the line, not for a newcomer.
  EXPECT_EQ(run(s().complete("q", ids[0], T0 + 5001))->reason, EndReason::completed);
  auto late = run(s().join("q", "", T0 + 5001));
  EXPECT_EQ(late->state, TicketState::waiting);
  EXPECT_EQ(run(s().tick("q", T0 + 5002)).value(), 1);
  EXPECT_EQ(run(s().get_ticket("q", ids[3], false, T0))->state, TicketState::active);
  EXPECT_EQ(run(s().get_ticket("q", ids[4], false, T0))->position, 1);
  EXPECT_EQ(run(s().get_ticket("q", late->id, false, T0))->position, 3);
}

TEST_P(StoreConformance, AdmissionRateIsTheBucketRate) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(10, 1000), T0)).ok());
  // While nobody waits, each joiner goes straight in: the full bucket (10) lets 10 in at once.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(run(s().join("q", "", T0)).ok());
  EXPECT_EQ(run(s().get_queue("q"))->stats.admitted_total, 10);
  // Then 10 per second from the head: 50 in 5 s, in ticks of 100 ms.
  for (Millis t = T0 + 100; t <= T0 + 5000; t += 100) ASSERT_EQ(run(s().tick("q", t)).value(), 1);
  EXPECT_EQ(run(s().get_queue("q"))->stats.admitted_total, 60);
}

TEST_P(StoreConformance, JoiningAnEmptyLineWithRoomIsAdmittedAtOnce) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(10, 5), T0)).ok());
  auto t = run(s().join("q", "", T0 + 1));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->created);
  EXPECT_EQ(t->state, TicketState::active);
  EXPECT_EQ(t->position, 0);
  EXPECT_EQ(t->expires_ms, T0 + 1 + 60'000);
  auto ev = h_->events("q");
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[ev.size() - 2].type, EventType::joined);
  EXPECT_EQ(ev.back().type, EventType::admitted);
  EXPECT_EQ(ev.back().ticket, t->id);
  // Somebody waiting: a newcomer never jumps the line, even with tokens and room.
  ConfigPatch pause;
  pause.paused = true;
  ASSERT_TRUE(run(s().put_queue("q", pause, T0 + 2)).ok());
  auto w = run(s().join("q", "", T0 + 3));
  pause.paused = false;
  ASSERT_TRUE(run(s().put_queue("q", pause, T0 + 4)).ok());
  auto late = run(s().join("q", "", T0 + 5));
  EXPECT_EQ(late->state, TicketState::waiting);
  EXPECT_EQ(late->position, 2);
  EXPECT_EQ(run(s().get_ticket("q", w->id, false, T0))->state, TicketState::waiting);
}

// Joins issued together (all started on one io_context before any finishes) are each the join
// they would be alone, one after the other in the order they were issued: RedisStore sends the
// joins that wait behind a call in flight as one batch script call; this is what it must keep.
// Each gets its own ticket, order, joined time and outbox event (consecutive seqs); a dedupe key
// repeated within one batch gets the first join's ticket; the empty line admits at once while
// tokens last; joins of a closed or unknown queue fail without failing the others.
TEST_P(StoreConformance, ConcurrentJoinsAreEachTheirOwnJoin) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(3, 1000), T0)).ok());  // a full bucket: 3 tokens
  ASSERT_TRUE(run(s().put_queue("shut", cfg(0, 10), T0)).ok());
  ASSERT_TRUE(run(s().close_queue("shut", T0)).ok());
  const uint64_t seq0 = run(s().get_queue("q"))->seq;
  constexpr int kJoins = 150;
  const std::set<int> same{40, 41, 100};  // joins with the dedupe key "same"
  std::vector<boost::asio::awaitable<Result<Ticket>>> tasks;
  std::vector<int> index;  // tasks[k] is join index[k] of "q", or -1 (shut) / -2 (nope)
  for (int i = 0; i < kJoins; ++i) {
    std::string key = same.count(i) ? "same" : i % 3 == 0 ? "" : "k" + std::to_string(i);
    tasks.push_back(s().join("q", std::move(key), T0 + i));
    index.push_back(i);
    if (i % 50 == 7) {
      tasks.push_back(s().join("shut", "", T0 + i));
      index.push_back(-1);
      tasks.push_back(s().join("nope", "", T0 + i));
      index.push_back(-2);
    }
  }
  auto results = run_all(std::move(tasks));
  ASSERT_EQ(results.size(), index.size());
  std::map<int, Ticket> joined;  // join index -> its ticket
  for (size_t k = 0; k < results.size(); ++k) {
    if (index[k] == -1) {
      ASSERT_FALSE(results[k].ok());
      EXPECT_EQ(results[k].error().code, Errc::queue_closed);
    } else if (index[k] == -2) {
      ASSERT_FALSE(results[k].ok());
      EXPECT_EQ(results[k].error().code, Errc::queue_not_found);
    } else {
      ASSERT_TRUE(results[k].ok()) << results[k].error().message;
      joined[index[k]] = results[k].value();
    }
  }
  // Tickets made: every join but the 2nd and 3rd "same", in issue order: orders 1..kJoins-2.
  std::set<std::string> ids;
  uint64_t order = 0;
  for (auto& [i, t] : joined) {
    if (same.count(i) && i != *same.begin()) {
      EXPECT_FALSE(t.created) << i;
      EXPECT_EQ(t.id, joined[*same.begin()].id) << i;
      continue;
    }
    EXPECT_TRUE(t.created) << i;
    ids.insert(t.id);
    EXPECT_EQ(t.order, ++order) << i;
    EXPECT_EQ(t.joined_ms, T0 + i) << i;
    if (t.order <= 3) {  // the line was empty and a token left: straight in
      EXPECT_EQ(t.state, TicketState::active) << i;
      EXPECT_EQ(t.position, 0) << i;
    } else {
      EXPECT_EQ(t.state, TicketState::waiting) << i;
      EXPECT_EQ(t.position, static_cast<int64_t>(t.order) - 3) << i;
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kJoins - 2));
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->stats.waiting, kJoins - 2 - 3);
  EXPECT_EQ(info->stats.admitted_total, 3);
  // One joined event per ticket (and one admitted for the first 3), with consecutive seqs.
  auto ev = h_->events("q");
  std::vector<Event> after;
  for (auto& e : ev)
    if (e.seq > seq0) after.push_back(e);
  ASSERT_EQ(after.size(), static_cast<size_t>(kJoins - 2 + 3));
  std::map<std::string, uint64_t> joined_seq;
  for (size_t k = 0; k < after.size(); ++k) {
    EXPECT_EQ(after[k].seq, seq0 + 1 + k);
    if (after[k].type == EventType::joined) joined_seq[after[k].ticket] = after[k].seq;
  }
  EXPECT_EQ(joined_seq.size(), ids.size());
  EXPECT_EQ(info->seq, seq0 + after.size());
  for (auto& [i, t] : joined) {
    if (t.created && t.state == TicketState::waiting) {
      EXPECT_EQ(t.seq, joined_seq[t.id]) << i;
    }
  }
}

TEST_P(StoreConformance, PausedQueueAdmitsNobody) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(100, 100, true), T0)).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(s().join("q", "", T0)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 5000)).value(), 0);
  EXPECT_EQ(run(s().get_queue("q"))->stats.active, 0);
  ConfigPatch p;
  p.paused = false;
  ASSERT_TRUE(run(s().put_queue("q", p, T0 + 5000)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 6000)).value(), 3);
}

TEST_P(StoreConformance, SessionsExpireAfterTtl) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(10, 10), T0)).ok());
  auto t = run(s().join("q", "", T0 + 1000));  // admitted at once
  ASSERT_EQ(t->state, TicketState::active);
  ASSERT_EQ(run(s().tick("q", T0 + 1000 + 59'999)).value(), 0);
  ASSERT_EQ(run(s().tick("q", T0 + 1000 + 60'000)).value(), 1);
  auto e = run(s().get_ticket("q", t->id, false, T0));
  EXPECT_EQ(e->state, TicketState::ended);
  EXPECT_EQ(e->reason, EndReason::expired);
  EXPECT_EQ(run(s().get_queue("q"))->stats.expired_total, 1);
}

TEST_P(StoreConformance, UnseenTicketsAreAbandonedSeenOnesStay) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  auto a = run(s().join("q", "", T0));
  auto b = run(s().join("q", "", T0));
  auto c = run(s().join("q", "", T0));
  ASSERT_TRUE(run(s().touch("q", {b->id, "AAAAAAAAAAAAAAAAAAAAAA"}, T0 + 20'000)).ok());
  ASSERT_TRUE(run(s().get_ticket("q", c->id, true, T0 + 25'000)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 30'000)).value(), 1);
  EXPECT_EQ(run(s().get_ticket("q", a->id, false, T0))->reason, EndReason::abandoned);
  EXPECT_EQ(run(s().get_ticket("q", b->id, false, T0))->position, 1);
  EXPECT_EQ(run(s().get_ticket("q", c->id, false, T0))->position, 2);
  EXPECT_EQ(run(s().get_queue("q"))->stats.abandoned_total, 1);
}

TEST_P(StoreConformance, CompleteRefusesWaitingTickets) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  auto a = run(s().join("q", "", T0));
  EXPECT_EQ(run(s().complete("q", a->id, T0)).error().code, Errc::bad_request);
  EXPECT_EQ(run(s().get_ticket("q", a->id, false, T0))->state, TicketState::waiting);
}

TEST_P(StoreConformance, CloseEndsTheWaitingAndRefusesJoins) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  auto a = run(s().join("q", "", T0));
  auto closed = run(s().close_queue("q", T0 + 1));
  ASSERT_TRUE(closed.ok());
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->stats.waiting, 0);
  EXPECT_EQ(run(s().get_ticket("q", a->id, false, T0))->reason, EndReason::closed);
  EXPECT_EQ(run(s().join("q", "", T0 + 2)).error().code, Errc::queue_closed);
  EXPECT_EQ(h_->events("q").back().type, EventType::closed);
  // PUT reopens it, empty.
  auto re = run(s().put_queue("q", {}, T0 + 3));
  EXPECT_FALSE(re->closed);
  EXPECT_EQ(run(s().join("q", "", T0 + 4))->position, 1);
}

TEST_P(StoreConformance, EventsCarrySeqInOrderAndDescribeEveryChange) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(1000, 1), T0)).ok());
  auto a = run(s().join("q", "", T0));  // admitted at once
  auto b = run(s().join("q", "", T0));
  ASSERT_EQ(run(s().tick("q", T0 + 1000)).value(), 0);  // capacity 1 is taken
  ASSERT_TRUE(run(s().leave("q", b->id, T0 + 1001)).ok());
  ASSERT_TRUE(run(s().complete("q", a->id, T0 + 1002)).ok());
  auto ev = h_->events("q");
  std::vector<EventType> types;
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].seq, i + 1);
    EXPECT_EQ(ev[i].queue, "q");
    types.push_back(ev[i].type);
  }
  std::vector<EventType> want{EventType::config_changed, EventType::joined,
                              EventType::admitted,       EventType::joined,
                              EventType::left,           EventType::completed};
  EXPECT_EQ(types, want);
  EXPECT_EQ(ev[1].ticket, a->id);
  EXPECT_EQ(ev[1].order + 1, ev[3].order);
  EXPECT_EQ(ev[2].ticket, a->id);
  EXPECT_EQ(ev[2].expires_ms, T0 + 60'000);
  EXPECT_EQ(ev[2].id(), "q:3");
}

TEST_P(StoreConformance, SnapshotMatchesTheLine) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(run(s().join("q", "", T0))->id);
  ASSERT_TRUE(run(s().leave("q", ids[2], T0)).ok());
  auto snap = run(s().snapshot("q"));
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->info.seq, 6u);
  ASSERT_EQ(snap->waiting_orders.size(), 3u);
  EXPECT_LT(snap->waiting_orders[0], snap->waiting_orders[1]);
  auto t3 = run(s().get_ticket("q", ids[3], false, T0));
  EXPECT_EQ(snap->waiting_orders[2], t3->order);
  EXPECT_EQ(t3->seq, 6u);
}

TEST_P(StoreConformance, QueueLimitIsEnforced) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(s().put_queue("q" + std::to_string(i), {}, T0)).ok());
  EXPECT_EQ(run(s().put_queue("q3", {}, T0)).error().code, Errc::too_many_queues);
  EXPECT_TRUE(run(s().put_queue("q1", {}, T0)).ok());  // existing ones can still change
}

// --max-queues counts open queues: a closed one frees its place (a DELETE then a PUT of a new
// queue at the limit works), and reopening it needs a place again.
TEST_P(StoreConformance, ClosedQueuesDoNotCountTowardTheLimit) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(s().put_queue("q" + std::to_string(i), {}, T0)).ok());
  ASSERT_EQ(run(s().put_queue("q3", {}, T0)).error().code, Errc::too_many_queues);
  ASSERT_TRUE(run(s().close_queue("q1", T0 + 1)).ok());
  ASSERT_TRUE(run(s().close_queue("q1", T0 + 2)).ok());  // closing twice frees one place only
  auto created = run(s().put_queue("q3", {}, T0 + 3));
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(run(s().put_queue("q4", {}, T0 + 4)).error().code, Errc::too_many_queues);
  // The closed queue is still there (its tickets still answer) but cannot reopen: no place.
  EXPECT_TRUE(run(s().get_queue("q1"))->closed);
  EXPECT_EQ(run(s().put_queue("q1", {}, T0 + 5)).error().code, Errc::too_many_queues);
  EXPECT_TRUE(run(s().get_queue("q1"))->closed);
  // Closing another makes room for the reopening.
  ASSERT_TRUE(run(s().close_queue("q0", T0 + 6)).ok());
  auto reopened = run(s().put_queue("q1", {}, T0 + 7));
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(reopened->closed);
  EXPECT_FALSE(reopened->created);
  EXPECT_EQ(run(s().put_queue("q5", {}, T0 + 8)).error().code, Errc::too_many_queues);
}

}  // namespace
}  // namespace anteroom::conformance

namespace anteroom::conformance {
namespace {

// Every seq of q's events, in commit order, one more than the one before: nothing repeated or
// skipped, across forgetting and making again (what hub views and the webhook intake rely on).
void expect_seqs_continue(const std::vector<Event>& ev) {
  ASSERT_FALSE(ev.empty());
  for (size_t i = 1; i < ev.size(); ++i) EXPECT_EQ(ev[i].seq, ev[i - 1].seq + 1) << i;
}

// A closed queue with visitors stays (their sessions go on, their tickets answer); the tick at
// which its last session has ended (and its close is abandon_after_s old: rules::forgettable)
// forgets it: 404, not listed. Made again, it continues its seq above the old queue's.
TEST_P(StoreConformance, ClosedQueueIsForgottenWhenItsLastSessionEnds) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(1, 10), T0)).ok());
  auto a = run(s().join("q", "u:ann", T0));  // admitted at once, expires at T0 + 60 s
  ASSERT_EQ(a->state, TicketState::active);
  auto b = run(s().join("q", "", T0));  // waits: one token a second
  ASSERT_EQ(b->state, TicketState::waiting);
  ASSERT_TRUE(run(s().close_queue("q", T0 + 1000)).ok());
  // Past the close's grace (abandon_after_s 30) but a session is still on: kept.
  EXPECT_EQ(run(s().tick("q", T0 + 40'000)).value(), 0);
  auto kept = run(s().get_queue("q"));
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->closed);
  EXPECT_EQ(kept->stats.active, 1);
  EXPECT_EQ(run(s().get_ticket("q", a->id, false, T0 + 40'000))->state, TicketState::active);
  EXPECT_EQ(run(s().get_ticket("q", b->id, false, T0 + 40'000))->reason, EndReason::closed);
  EXPECT_EQ(run(s().queue_names()).value(), std::vector<std::string>{"q"});
  const uint64_t last_seq = kept->seq;

  // The tick that expires the last session forgets the queue (and says what it made).
  EXPECT_EQ(run(s().tick("q", T0 + 60'000)).value(), 1);
  EXPECT_EQ(h_->events("q").back().type, EventType::expired);
  EXPECT_EQ(h_->events("q").back().seq, last_seq + 1);
  EXPECT_EQ(run(s().get_queue("q")).error().code, Errc::queue_not_found);
  EXPECT_EQ(run(s().get_ticket("q", a->id, false, T0 + 60'001)).error().code,
            Errc::queue_not_found);
  EXPECT_EQ(run(s().join("q", "", T0 + 60'001)).error().code, Errc::queue_not_found);
  EXPECT_EQ(run(s().tick("q", T0 + 60'001)).error().code, Errc::queue_not_found);
  EXPECT_TRUE(run(s().list_queues()).value().empty());
  EXPECT_TRUE(run(s().queue_names()).value().empty());

  // Made again: a new, empty queue whose events follow the old one's.
  auto again = run(s().put_queue("q", cfg(0, 10), T0 + 70'000));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->created);
  EXPECT_FALSE(again->closed);
  EXPECT_EQ(again->seq, last_seq + 2);
  EXPECT_EQ(again->stats.admitted_total, 0);
  EXPECT_EQ(again->stats.expired_total, 0);
  auto c = run(s().join("q", "u:ann", T0 + 70'001));  // the old dedupe key is gone too
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->created);
  EXPECT_EQ(c->position, 1);
  EXPECT_EQ(c->seq, last_seq + 3);
  EXPECT_EQ(run(s().snapshot("q"))->waiting_orders.size(), 1u);
  expect_seqs_continue(h_->events("q"));
}

// An empty closed queue is forgotten at the first tick once the close is abandon_after_s old;
// reopened before that, it is not.
TEST_P(StoreConformance, ClosedEmptyQueueIsForgottenAtTheFirstTickAfterItsGrace) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  ASSERT_TRUE(run(s().put_queue("r", cfg(0, 10), T0)).ok());
  ASSERT_TRUE(run(s().close_queue("q", T0 + 1)).ok());
  ASSERT_TRUE(run(s().close_queue("r", T0 + 1)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 1 + 29'999)).value(), 0);
  EXPECT_TRUE(run(s().get_queue("q"))->closed);
  ASSERT_TRUE(run(s().put_queue("r", {}, T0 + 2)).ok());  // reopened: stays
  EXPECT_EQ(run(s().tick("q", T0 + 1 + 30'000)).value(), 0);
  EXPECT_EQ(run(s().tick("r", T0 + 1 + 30'000)).value(), 0);
  EXPECT_EQ(run(s().get_queue("q")).error().code, Errc::queue_not_found);
  EXPECT_FALSE(run(s().get_queue("r"))->closed);
  EXPECT_EQ(run(s().queue_names()).value(), std::vector<std::string>{"r"});

  // Forgotten twice: the seq goes on each time.
  auto again = run(s().put_queue("q", {}, T0 + 40'000));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->created);
  EXPECT_EQ(again->seq, 3u);  // config_changed 1, closed 2, config_changed 3
  ASSERT_TRUE(run(s().close_queue("q", T0 + 40'001)).ok());
  ASSERT_EQ(run(s().tick("q", T0 + 40'001 + 120'000)).value(), 0);  // (default abandon_after_s)
  EXPECT_EQ(run(s().get_queue("q")).error().code, Errc::queue_not_found);
  EXPECT_EQ(run(s().put_queue("q", {}, T0 + 200'000))->seq, 5u);
  expect_seqs_continue(h_->events("q"));
}

// A session given back (completed, left) ends it as well as expiry: the next tick forgets.
// The forgotten queue's place was free since its close; its name is free to make a new one.
TEST_P(StoreConformance, ForgottenAfterTheLastSessionIsGivenBack) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(10, 10), T0)).ok());
  ASSERT_TRUE(run(s().put_queue("q1", {}, T0)).ok());
  ASSERT_TRUE(run(s().put_queue("q2", {}, T0)).ok());
  auto a = run(s().join("q", "", T0));
  auto b = run(s().join("q", "", T0 + 1000));
  ASSERT_EQ(a->state, TicketState::active);
  ASSERT_EQ(b->state, TicketState::active);
  ASSERT_TRUE(run(s().close_queue("q", T0 + 2000)).ok());
  ASSERT_TRUE(run(s().complete("q", a->id, T0 + 3000)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 40'000)).value(), 0);
  EXPECT_EQ(run(s().get_queue("q"))->stats.active, 1);
  ASSERT_TRUE(run(s().leave("q", b->id, T0 + 41'000)).ok());
  EXPECT_TRUE(run(s().get_queue("q"))->closed);  // (forgetting is the tick's)
  EXPECT_EQ(run(s().tick("q", T0 + 41'000)).value(), 0);
  EXPECT_EQ(run(s().get_queue("q")).error().code, Errc::queue_not_found);
  ASSERT_TRUE(run(s().put_queue("q3", {}, T0 + 42'000)).ok());  // q's place: free since close
  // Making q again is making a queue: it needs a place like any other.
  EXPECT_EQ(run(s().put_queue("q", {}, T0 + 42'001)).error().code, Errc::too_many_queues);
  ASSERT_TRUE(run(s().close_queue("q3", T0 + 42'002)).ok());
  auto again = run(s().put_queue("q", {}, T0 + 42'003));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->created);
  expect_seqs_continue(h_->events("q"));
}

}  // namespace
}  // namespace anteroom::conformance
