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

// ---- The on-sale (SPEC §7, docs/api.md): schedule, pre-queue, the draw,
// modes, closes_at, the operator's message. Times are explicit: schedule fields are Unix
// seconds, `now` is milliseconds.
#include <algorithm>
#include <optional>

#include "core/encoding.hpp"
#include "core/position_index.hpp"
#include "core/rules.hpp"
#include "draw/draw.hpp"

namespace anteroom::conformance {
namespace {

constexpr int64_t S0 = T0 / 1000;     // T0 in Unix seconds
constexpr int64_t kPreS = S0 + 10;    // the pre-queue opens
constexpr int64_t kOpenS = S0 + 100;  // the draw
constexpr Millis kPre = kPreS * 1000;
constexpr Millis kOpen = kOpenS * 1000;

// An on-sale queue: pre-queue from kPreS, draw at kOpenS, nobody admitted (rate 0) unless asked.
ConfigPatch onsale(double rate = 0, int64_t max_active = 1000) {
  ConfigPatch p = cfg(rate, max_active);
  p.prequeue_at = kPreS;
  p.opens_at = kOpenS;
  return p;
}

// The value (a JSON literal) of an error detail, or "<absent>".
std::string detail(const Error& e, std::string_view name) {
  for (auto& [k, v] : e.details)
    if (k == name) return v;
  return "<absent>";
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The published order recomputed from the seed and the entry ids, as anyone can.
std::vector<std::string> recompute(const std::string& seed_hex, std::vector<std::string> ids) {
  auto seed = draw::from_hex(seed_hex);
  EXPECT_TRUE(seed.has_value());
  if (!seed) return {};
  return draw::order(*seed, std::move(ids));
}

// n pre-queue joins one millisecond apart from `at`; each must be an entrant.
std::vector<Ticket> enter(StoreHarness& h, int n, Millis at, const std::string& q = "q") {
  std::vector<Ticket> out;
  for (int i = 0; i < n; ++i) {
    auto t = h.run(h.store().join(q, "", at + i));
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
    if (!t.ok()) break;
    EXPECT_TRUE(t->entrant);
    out.push_back(*t);
  }
  return out;
}

Ticket ticket(StoreHarness& h, const std::string& id, Millis now, const std::string& q = "q") {
  auto t = h.run(h.store().get_ticket(q, id, false, now));
  EXPECT_TRUE(t.ok()) << id;
  return t.ok() ? *t : Ticket{};
}

std::vector<Event> events_of(StoreHarness& h, EventType type, const std::string& q = "q") {
  std::vector<Event> out;
  for (auto& e : h.events(q))
    if (e.type == type) out.push_back(e);
  return out;
}

// The whole published draw, read in pages of 7 (to cross page boundaries).
DrawPage whole_draw(StoreHarness& h, const std::string& q = "q") {
  DrawPage all;
  for (int64_t after = 0;; after += 7) {
    auto p = h.run(h.store().draw_page(q, after, 7));
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    if (!p.ok()) return all;
    all.info = p->info;
    all.entries.insert(all.entries.end(), p->entries.begin(), p->entries.end());
    if (p->entries.size() < 7) break;
  }
  return all;
}

// One outcome of run_all for a mix of calls (a tick, a join, a read).
struct Step {
  Result<int64_t> made;   // tick
  Result<Ticket> ticket;  // join or read
};
boost::asio::awaitable<Step> tick_step(QueueStore& s, std::string q, Millis now) {
  Step st;
  st.made = co_await s.tick(std::move(q), now);
  co_return st;
}
boost::asio::awaitable<Step> join_step(QueueStore& s, std::string q, Millis now) {
  Step st;
  st.ticket = co_await s.join(std::move(q), "", now);
  co_return st;
}
boost::asio::awaitable<Step> read_step(QueueStore& s, std::string q, std::string id, Millis now) {
  Step st;
  st.ticket = co_await s.get_ticket(std::move(q), std::move(id), true, now);
  co_return st;
}

TEST_P(StoreConformance, ScheduleIsValidatedAndLockedAfterTheDraw) {
  // The merged schedule: prequeue_at needs opens_at; prequeue_at <= opens_at < closes_at.
  ConfigPatch bad;
  bad.prequeue_at = kPreS;
  EXPECT_EQ(run(s().put_queue("q", bad, T0)).error().code, Errc::bad_request);
  bad.opens_at = kPreS - 1;
  EXPECT_EQ(run(s().put_queue("q", bad, T0)).error().code, Errc::bad_request);
  bad = {};
  bad.opens_at = kOpenS;
  bad.closes_at = kOpenS;
  EXPECT_EQ(run(s().put_queue("q", bad, T0)).error().code, Errc::bad_request);
  bad = {};
  bad.opens_at = 5;  // not a Unix time in 2000..2100
  EXPECT_EQ(run(s().put_queue("q", bad, T0)).error().code, Errc::bad_request);
  EXPECT_EQ(run(s().get_queue("q")).error().code, Errc::queue_not_found);

  auto a = run(s().put_queue("q", onsale(), T0));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->config.prequeue_at, kPreS);
  EXPECT_EQ(a->config.opens_at, kOpenS);
  EXPECT_FALSE(a->config.closes_at);
  EXPECT_EQ(a->draw.state, DrawState::prequeue);
  EXPECT_TRUE(is_hex64(a->draw.commitment)) << a->draw.commitment;
  EXPECT_TRUE(a->draw.seed.empty());
  const std::string commitment = a->draw.commitment;
  // Checked merged with the current config.
  ConfigPatch p;
  p.prequeue_at = kOpenS + 1;
  EXPECT_EQ(run(s().put_queue("q", p, T0 + 1)).error().code, Errc::bad_request);
  p = {};
  p.closes_at = kOpenS - 1;
  EXPECT_EQ(run(s().put_queue("q", p, T0 + 1)).error().code, Errc::bad_request);
  EXPECT_EQ(run(s().get_queue("q"))->config.prequeue_at, kPreS);
  EXPECT_FALSE(run(s().get_queue("q"))->config.closes_at);
  // During the pre-queue opens_at may move (a delayed sale, same seed) but not be removed.
  p = {};
  p.opens_at = kOpenS + 20;
  auto moved = run(s().put_queue("q", p, T0 + 2));
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->config.opens_at, kOpenS + 20);
  EXPECT_EQ(moved->draw.state, DrawState::prequeue);
  EXPECT_EQ(moved->draw.commitment, commitment);
  p = {};
  p.prequeue_at.emplace();  // null: unset
  p.opens_at.emplace();
  EXPECT_EQ(run(s().put_queue("q", p, T0 + 3)).error().code, Errc::schedule_locked);
  enter(*h_, 2, kPre);
  EXPECT_EQ(run(s().tick("q", kOpen)).value(), 0);  // opens_at moved: not yet
  EXPECT_EQ(run(s().get_queue("q"))->draw.state, DrawState::prequeue);
  ASSERT_TRUE(run(s().tick("q", (kOpenS + 20) * 1000)).ok());
  ASSERT_EQ(run(s().get_queue("q"))->draw.state, DrawState::drawn);
  // Drawn: prequeue_at and opens_at are fixed; closes_at, mode and message may still change.
  p = {};
  p.opens_at = kOpenS + 500;
  EXPECT_EQ(run(s().put_queue("q", p, kOpen + 21'000)).error().code, Errc::schedule_locked);
  p = {};
  p.prequeue_at = kPreS + 1;
  EXPECT_EQ(run(s().put_queue("q", p, kOpen + 21'000)).error().code, Errc::schedule_locked);
  p = {};
  p.prequeue_at.emplace();
  p.opens_at.emplace();
  EXPECT_EQ(run(s().put_queue("q", p, kOpen + 21'000)).error().code, Errc::schedule_locked);
  p = {};
  p.closes_at = kOpenS + 3600;
  p.mode = Mode::random;
  p.message = "Gates open at 8";
  auto later = run(s().put_queue("q", p, kOpen + 22'000));
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_EQ(later->config.closes_at, kOpenS + 3600);
  EXPECT_EQ(later->config.mode, Mode::random);
  EXPECT_EQ(later->config.message, "Gates open at 8");
  EXPECT_EQ(later->config.opens_at, kOpenS + 20);
  EXPECT_EQ(later->draw.state, DrawState::drawn);
  EXPECT_EQ(later->draw.commitment, commitment);

  // A running line cannot become an on-sale under its visitors; an empty one can.
  ASSERT_TRUE(run(s().put_queue("r", cfg(0, 10), T0)).ok());
  auto w = run(s().join("r", "", T0 + 1));
  ASSERT_EQ(w->state, TicketState::waiting);
  ConfigPatch sched;
  sched.opens_at = kOpenS;
  EXPECT_EQ(run(s().put_queue("r", sched, T0 + 2)).error().code, Errc::schedule_locked);
  EXPECT_FALSE(run(s().get_queue("r"))->config.opens_at);
  ASSERT_TRUE(run(s().leave("r", w->id, T0 + 3)).ok());
  auto r = run(s().put_queue("r", sched, T0 + 4));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->draw.state, DrawState::prequeue);
  EXPECT_TRUE(is_hex64(r->draw.commitment));
  EXPECT_NE(r->draw.commitment, commitment);  // a seed per queue epoch
}

TEST_P(StoreConformance, JoinBeforePrequeueIsRefusedWithTimes) {
  ConfigPatch p = onsale();
  p.closes_at = kOpenS + 3600;
  ASSERT_TRUE(run(s().put_queue("q", p, T0)).ok());
  ASSERT_TRUE(run(s().put_queue("r", onsale(), T0)).ok());
  const uint64_t seq0 = run(s().get_queue("q"))->seq;
  auto r = run(s().join("q", "u:early", kPre - 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_open_yet);
  EXPECT_EQ(detail(r.error(), "prequeue_at"), std::to_string(kPreS));
  EXPECT_EQ(detail(r.error(), "opens_at"), std::to_string(kOpenS));
  EXPECT_EQ(detail(r.error(), "closes_at"), std::to_string(kOpenS + 3600));
  EXPECT_EQ(detail(r.error(), "now"), std::to_string((kPre - 1) / 1000));
  auto r2 = run(s().join("r", "", T0));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, Errc::not_open_yet);
  EXPECT_EQ(detail(r2.error(), "closes_at"), "null");
  EXPECT_EQ(detail(r2.error(), "now"), std::to_string(S0));
  // A refusal makes nothing: no ticket, no event, the dedupe key not remembered.
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->seq, seq0);
  EXPECT_EQ(info->draw.entrants, 0);
  EXPECT_EQ(info->stats.waiting, 0);
  // From prequeue_at on, joins enter.
  auto in = run(s().join("q", "u:early", kPre));
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_TRUE(in->created);
  EXPECT_TRUE(in->entrant);
}

TEST_P(StoreConformance, PrequeueJoinHasNoPositionAndNobodyIsAdmittedBeforeOpensAt) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(100, 100), T0)).ok());
  const uint64_t seq0 = run(s().get_queue("q"))->seq;
  auto ts = enter(*h_, 5, kPre);
  ASSERT_EQ(ts.size(), 5u);
  auto ann = run(s().join("q", "u:ann", kPre + 10));
  ASSERT_TRUE(ann.ok());
  ts.push_back(*ann);
  std::set<std::string> ids;
  for (auto& t : ts) {
    EXPECT_TRUE(t.created);
    EXPECT_TRUE(t.entrant);
    EXPECT_EQ(t.state, TicketState::waiting);  // (status "prequeue" at the edge)
    EXPECT_EQ(t.position, 0);
    EXPECT_EQ(t.place, 0);
    EXPECT_TRUE(rules::valid_ticket_id(t.id));
    ids.insert(t.id);
  }
  EXPECT_EQ(ids.size(), 6u);
  // The same dedupe key gets the same entry.
  auto again = run(s().join("q", "u:ann", kPre + 11));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->id, ann->id);
  EXPECT_TRUE(again->entrant);
  EXPECT_EQ(again->position, 0);
  auto read = ticket(*h_, ts[0].id, kPre + 20);
  EXPECT_TRUE(read.entrant);
  EXPECT_EQ(read.state, TicketState::waiting);
  EXPECT_EQ(read.position, 0);
  EXPECT_EQ(read.place, 0);
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->draw.state, DrawState::prequeue);
  EXPECT_EQ(info->draw.entrants, 6);
  EXPECT_EQ(info->stats.waiting, 0);  // entrants are not in the line before the draw
  EXPECT_EQ(info->stats.active, 0);
  // One `entered` event per entrant, nothing else.
  std::vector<Event> after;
  for (auto& e : h_->events("q"))
    if (e.seq > seq0) after.push_back(e);
  ASSERT_EQ(after.size(), 6u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].type, EventType::entered) << i;
    EXPECT_EQ(after[i].ticket, ts[i].id) << i;
    if (i > 0) {
      EXPECT_GT(after[i].order, after[i - 1].order) << i;  // the arrival number
    }
  }
  // Tokens and room, but nobody before opens_at.
  EXPECT_EQ(run(s().tick("q", kOpen - 1)).value(), 0);
  EXPECT_EQ(run(s().get_queue("q"))->stats.admitted_total, 0);
  // The tick at opens_at draws and admits at once, in draw order.
  EXPECT_EQ(run(s().tick("q", kOpen)).value(), 7);  // drawn + 6 admitted
  ASSERT_EQ(events_of(*h_, EventType::drawn).size(), 1u);
  auto admitted = events_of(*h_, EventType::admitted);
  ASSERT_EQ(admitted.size(), 6u);
  for (size_t i = 0; i < admitted.size(); ++i) {
    auto t = ticket(*h_, admitted[i].ticket, kOpen);
    EXPECT_EQ(t.state, TicketState::active);
    EXPECT_TRUE(t.entrant);
    EXPECT_EQ(t.place, static_cast<int64_t>(i) + 1);  // entrants keep their place while active
  }
}

TEST_P(StoreConformance, EntryIdIsTheOneWayFunction) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(), T0)).ok());
  auto ts = enter(*h_, 8, kPre);
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  auto d = whole_draw(*h_);
  ASSERT_EQ(d.entries.size(), 8u);
  std::set<std::string> want, got(d.entries.begin(), d.entries.end());
  for (auto& t : ts) {
    std::string e = draw::entry_id(t.id);
    want.insert(e);
    EXPECT_NE(e, t.id);
    EXPECT_TRUE(rules::valid_ticket_id(e));  // 22 base64url characters
    auto now = ticket(*h_, t.id, kOpen);
    ASSERT_GE(now.place, 1);
    ASSERT_LE(now.place, 8);
    EXPECT_EQ(d.entries[now.place - 1], e);
  }
  EXPECT_EQ(got, want);
}

TEST_P(StoreConformance, DrawHappensOnceUnderConcurrentTicksAndJoins) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(0, 1000), T0)).ok());
  constexpr int M = 40;
  auto ts = enter(*h_, M, kPre);
  ASSERT_EQ(ts.size(), static_cast<size_t>(M));
  const std::string commitment = run(s().get_queue("q"))->draw.commitment;
  // Ticks, joins and reads all at opens_at, all started before any finishes.
  std::vector<boost::asio::awaitable<Step>> tasks;
  std::vector<char> kind;
  for (int k = 0; k < 30; ++k) {
    tasks.push_back(tick_step(s(), "q", kOpen));
    kind.push_back('t');
    tasks.push_back(join_step(s(), "q", kOpen));
    kind.push_back('j');
    tasks.push_back(read_step(s(), "q", ts[k].id, kOpen));
    kind.push_back('r');
  }
  auto out = run_all(std::move(tasks));
  ASSERT_EQ(out.size(), kind.size());
  auto info = run(s().get_queue("q"));
  ASSERT_EQ(info->draw.state, DrawState::drawn);
  EXPECT_EQ(info->draw.entrants, M);
  EXPECT_EQ(info->draw.drawn_at_ms, kOpen);
  EXPECT_EQ(info->draw.commitment, commitment);
  EXPECT_TRUE(info->draw.seed.empty());
  const uint64_t base = info->draw.base;
  auto drawn = events_of(*h_, EventType::drawn);
  ASSERT_EQ(drawn.size(), 1u);
  EXPECT_EQ(drawn[0].order, base);
  EXPECT_EQ(drawn[0].expires_ms, M);  // (wire "exp": the number of entrants)
  EXPECT_TRUE(drawn[0].ticket.empty());
  std::set<int64_t> joiner_positions;
  for (size_t k = 0; k < out.size(); ++k) {
    if (kind[k] == 't') {
      ASSERT_TRUE(out[k].made.ok()) << out[k].made.error().message;
      continue;
    }
    ASSERT_TRUE(out[k].ticket.ok()) << out[k].ticket.error().message;
    const Ticket& t = out[k].ticket.value();
    EXPECT_EQ(t.state, TicketState::waiting);
    if (kind[k] == 'j') {  // at opens_at: after the draw, behind every entrant
      EXPECT_FALSE(t.entrant);
      EXPECT_EQ(t.place, 0);
      EXPECT_GT(t.order, base + M);
      EXPECT_GT(t.position, M);
      joiner_positions.insert(t.position);
    } else {
      EXPECT_TRUE(t.entrant);
      EXPECT_GE(t.place, 1);
      EXPECT_LE(t.place, M);
      EXPECT_EQ(t.order, base + t.place);
      EXPECT_EQ(t.position, t.place);  // nobody admitted (rate 0) or gone
    }
  }
  EXPECT_EQ(joiner_positions.size(), 30u);
  EXPECT_EQ(*joiner_positions.begin(), M + 1);
  EXPECT_EQ(*joiner_positions.rbegin(), M + 30);
  // The places: a permutation of 1..M, the published order, recomputable from seed + entry ids.
  std::vector<std::string> ids;
  for (auto& t : ts) ids.push_back(t.id);
  auto places = run(s().places("q", ids));
  ASSERT_TRUE(places.ok());
  ASSERT_EQ(places->size(), ids.size());
  std::set<int64_t> distinct(places->begin(), places->end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(M));
  EXPECT_EQ(*distinct.begin(), 1);
  EXPECT_EQ(*distinct.rbegin(), M);
  auto d = whole_draw(*h_);
  ASSERT_EQ(d.info.state, DrawState::drawn);
  ASSERT_TRUE(is_hex64(d.info.seed));
  EXPECT_EQ(draw::commitment(*draw::from_hex(d.info.seed)), commitment);
  ASSERT_EQ(d.entries.size(), static_cast<size_t>(M));
  std::vector<std::string> entry_ids;
  for (size_t i = 0; i < ids.size(); ++i) {
    entry_ids.push_back(draw::entry_id(ids[i]));
    EXPECT_EQ(d.entries[(*places)[i] - 1], entry_ids.back()) << i;
    EXPECT_EQ(ticket(*h_, ids[i], kOpen).place, (*places)[i]) << i;
  }
  EXPECT_EQ(d.entries, recompute(d.info.seed, entry_ids));
  // Later calls draw nothing more.
  ASSERT_TRUE(run(s().tick("q", kOpen + 1000)).ok());
  ASSERT_TRUE(run(s().join("q", "", kOpen + 1001)).ok());
  EXPECT_EQ(events_of(*h_, EventType::drawn).size(), 1u);
}

TEST_P(StoreConformance, PostOpenJoinsAreBehindEveryEntrant) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(0, 1000), T0)).ok());
  auto x = run(s().join("q", "u:x", kPre));
  ASSERT_TRUE(x.ok());
  auto ts = enter(*h_, 11, kPre + 1);
  ts.insert(ts.begin(), *x);
  // No tick ran: the first call at opens_at (a join) draws, then joins behind the entrants.
  std::vector<Ticket> late;
  for (int i = 0; i < 5; ++i) {
    auto t = run(s().join("q", "", kOpen + i));
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(t->created);
    EXPECT_FALSE(t->entrant);
    EXPECT_EQ(t->place, 0);
    EXPECT_EQ(t->state, TicketState::waiting);
    EXPECT_EQ(t->position, 12 + i + 1);
    late.push_back(*t);
  }
  auto info = run(s().get_queue("q"));
  ASSERT_EQ(info->draw.state, DrawState::drawn);
  EXPECT_EQ(info->stats.waiting, 17);
  ASSERT_EQ(events_of(*h_, EventType::drawn).size(), 1u);
  EXPECT_EQ(events_of(*h_, EventType::joined).size(), 5u);  // entrants `entered`, not `joined`
  for (auto& t : late) EXPECT_GT(t.order, info->draw.base + 12);
  std::set<int64_t> places;
  for (auto& e : ts) {
    auto t = ticket(*h_, e.id, kOpen + 10);
    EXPECT_TRUE(t.entrant);
    EXPECT_EQ(t.position, t.place);
    EXPECT_EQ(t.order, info->draw.base + t.place);
    places.insert(t.place);
  }
  EXPECT_EQ(places.size(), 12u);
  // An entrant's dedupe key still finds its ticket, now with its place.
  auto x2 = run(s().join("q", "u:x", kOpen + 20));
  ASSERT_TRUE(x2.ok());
  EXPECT_FALSE(x2->created);
  EXPECT_EQ(x2->id, x->id);
  EXPECT_TRUE(x2->entrant);
  EXPECT_GE(x2->place, 1);
  EXPECT_EQ(x2->position, x2->place);
}

TEST_P(StoreConformance, AdmissionFollowsDrawOrderThenFifo) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(10, 1000), T0)).ok());
  auto ts = enter(*h_, 20, kPre);
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());  // draws, admits a second's worth (10)
  std::vector<std::string> late;
  for (int i = 0; i < 5; ++i) {
    auto t = run(s().join("q", "", kOpen + 1 + i));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->state, TicketState::waiting);
    late.push_back(t->id);
  }
  for (int i = 1; i <= 100 && run(s().get_queue("q"))->stats.admitted_total < 25; ++i)
    ASSERT_TRUE(run(s().tick("q", kOpen + 100 * i)).ok());
  auto admitted = events_of(*h_, EventType::admitted);
  ASSERT_EQ(admitted.size(), 25u);
  const uint64_t base = run(s().get_queue("q"))->draw.base;
  for (size_t i = 0; i < 20; ++i) {
    auto t = ticket(*h_, admitted[i].ticket, kOpen + 10'000);
    EXPECT_TRUE(t.entrant) << i;
    EXPECT_EQ(t.place, static_cast<int64_t>(i) + 1) << i;
    EXPECT_EQ(admitted[i].order, base + i + 1) << i;
  }
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(admitted[20 + i].ticket, late[i]) << i;
  for (size_t i = 1; i < admitted.size(); ++i) EXPECT_GT(admitted[i].order, admitted[i - 1].order);
}

// The line as a model: waiting entrants by place, then post-open joiners by join order.
void expect_positions(StoreHarness& h, const std::map<int64_t, std::string>& entrants_by_place,
                      const std::vector<std::string>& late, Millis now) {
  std::vector<std::string> line;
  for (auto& [place, id] : entrants_by_place) line.push_back(id);
  line.insert(line.end(), late.begin(), late.end());
  int64_t pos = 0;
  for (auto& id : line) {
    auto t = ticket(h, id, now);
    if (t.state != TicketState::waiting) continue;
    EXPECT_EQ(t.position, ++pos) << id;
  }
  EXPECT_EQ(h.run(h.store().get_queue("q"))->stats.waiting, pos);
}

TEST_P(StoreConformance, LeavesBeforeAndAfterTheDrawKeepPositionsExact) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(0, 1000), T0)).ok());
  auto ts = enter(*h_, 20, kPre);
  ASSERT_EQ(ts.size(), 20u);
  std::set<std::string> left_before;
  for (int i : {2, 7, 15}) {
    auto t = run(s().leave("q", ts[i].id, kPre + 100));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->reason, EndReason::left);
    left_before.insert(ts[i].id);
  }
  EXPECT_EQ(run(s().get_queue("q"))->draw.entrants, 17);
  EXPECT_EQ(events_of(*h_, EventType::left).size(), 3u);
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  auto drawn = events_of(*h_, EventType::drawn);
  ASSERT_EQ(drawn.size(), 1u);
  EXPECT_EQ(drawn[0].expires_ms, 17);
  // The draw holds the 17 who stayed, at places 1..17.
  auto d = whole_draw(*h_);
  ASSERT_EQ(d.entries.size(), 17u);
  std::set<std::string> published(d.entries.begin(), d.entries.end());
  std::map<int64_t, std::string> by_place;
  std::vector<std::string> gone_ids;
  for (auto& t : ts) {
    if (left_before.count(t.id)) {
      EXPECT_EQ(published.count(draw::entry_id(t.id)), 0u);
      gone_ids.push_back(t.id);
      continue;
    }
    auto now = ticket(*h_, t.id, kOpen);
    EXPECT_EQ(now.position, now.place);
    by_place[now.place] = t.id;
  }
  ASSERT_EQ(by_place.size(), 17u);
  EXPECT_EQ(by_place.begin()->first, 1);
  EXPECT_EQ(by_place.rbegin()->first, 17);
  EXPECT_EQ(run(s().places("q", gone_ids)).value(), std::vector<int64_t>(3, 0));
  std::vector<std::string> late;
  for (int i = 0; i < 3; ++i) late.push_back(run(s().join("q", "", kOpen + 1 + i))->id);
  expect_positions(*h_, by_place, late, kOpen + 5);
  // Leaves after the draw: those behind move up, places stay.
  for (int64_t p : {4, 9}) {
    ASSERT_TRUE(run(s().leave("q", by_place[p], kOpen + 10)).ok());
    EXPECT_EQ(ticket(*h_, by_place[p], kOpen + 10).reason, EndReason::left);
    by_place.erase(p);
  }
  expect_positions(*h_, by_place, late, kOpen + 11);
  for (auto& [place, id] : by_place) EXPECT_EQ(ticket(*h_, id, kOpen + 11).place, place);
  // Five admitted: the head of the model line, i.e. places 1, 2, 3, 5, 6.
  ConfigPatch p;
  p.admit_per_s = 5;
  p.max_active = 5;
  ASSERT_TRUE(run(s().put_queue("q", p, kOpen + 20)).ok());
  for (int i = 1; i <= 100 && run(s().get_queue("q"))->stats.admitted_total < 5; ++i)
    ASSERT_TRUE(run(s().tick("q", kOpen + 20 + 100 * i)).ok());
  auto admitted = events_of(*h_, EventType::admitted);
  ASSERT_EQ(admitted.size(), 5u);
  std::vector<int64_t> want{1, 2, 3, 5, 6};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(admitted[i].ticket, by_place[want[i]]) << i;
    by_place.erase(want[i]);
  }
  expect_positions(*h_, by_place, late, kOpen + 20'000);
  ASSERT_TRUE(run(s().leave("q", late[1], kOpen + 20'001)).ok());
  ASSERT_TRUE(run(s().leave("q", by_place.rbegin()->second, kOpen + 20'002)).ok());
  by_place.erase(std::prev(by_place.end()));
  expect_positions(*h_, by_place, late, kOpen + 20'003);
}

TEST_P(StoreConformance, AbandonmentClockStartsAtTheDraw) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(0, 10), T0)).ok());  // abandon_after_s 30
  auto ts = enter(*h_, 4, kPre);
  // Unseen for a minute before the draw: an entry survives a closed laptop.
  EXPECT_EQ(run(s().tick("q", kPre + 60'000)).value(), 0);
  EXPECT_EQ(run(s().tick("q", kOpen)).value(), 1);  // the draw
  EXPECT_EQ(run(s().get_queue("q"))->draw.drawn_at_ms, kOpen);
  auto late = run(s().join("q", "", kOpen + 1000));
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(run(s().touch("q", {ts[1].id}, kOpen + 10'000)).ok());
  EXPECT_EQ(run(s().tick("q", kOpen + 29'999)).value(), 0);
  // 30 s after the draw: the entrants unseen since it.
  EXPECT_EQ(run(s().tick("q", kOpen + 30'000)).value(), 3);
  for (int i : {0, 2, 3})
    EXPECT_EQ(ticket(*h_, ts[i].id, kOpen + 30'000).reason, EndReason::abandoned) << i;
  EXPECT_EQ(ticket(*h_, ts[1].id, kOpen + 30'000).position, 1);
  EXPECT_EQ(ticket(*h_, late->id, kOpen + 30'000).position, 2);
  EXPECT_EQ(run(s().tick("q", kOpen + 31'000)).value(), 1);  // the post-open joiner, as ever
  EXPECT_EQ(ticket(*h_, late->id, kOpen + 31'000).reason, EndReason::abandoned);
  EXPECT_EQ(ticket(*h_, ts[1].id, kOpen + 31'000).position, 1);
  EXPECT_EQ(run(s().tick("q", kOpen + 40'000)).value(), 1);
  EXPECT_EQ(run(s().get_queue("q"))->stats.abandoned_total, 5);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 0);
}

TEST_P(StoreConformance, ClosesAtClosesTheQueue) {
  ConfigPatch p = cfg(10, 2);
  p.session_ttl_s = 3600;
  p.abandon_after_s = 3600;
  p.closes_at = kOpenS;  // no opens_at: a queue that just ends at a time
  ASSERT_TRUE(run(s().put_queue("q", p, T0)).ok());
  std::vector<Ticket> ts;
  for (int i = 0; i < 5; ++i) ts.push_back(*run(s().join("q", "", T0 + i)));
  ASSERT_EQ(ts[1].state, TicketState::active);
  ASSERT_EQ(ts[2].state, TicketState::waiting);
  EXPECT_EQ(run(s().tick("q", kOpen - 1)).value(), 0);
  EXPECT_FALSE(run(s().get_queue("q"))->closed);
  // At closes_at joins are refused at once, with the time; the next tick performs the close.
  auto r = run(s().join("q", "", kOpen));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::queue_closed);
  EXPECT_EQ(detail(r.error(), "closes_at"), std::to_string(kOpenS));
  EXPECT_GE(run(s().tick("q", kOpen)).value(), 1);
  auto info = run(s().get_queue("q"));
  EXPECT_TRUE(info->closed);
  EXPECT_EQ(info->stats.waiting, 0);
  EXPECT_EQ(info->stats.active, 2);
  ASSERT_EQ(events_of(*h_, EventType::closed).size(), 1u);
  for (int i = 2; i < 5; ++i) EXPECT_EQ(ticket(*h_, ts[i].id, kOpen).reason, EndReason::closed);
  auto r2 = run(s().join("q", "", kOpen + 1));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, Errc::queue_closed);
  EXPECT_EQ(detail(r2.error(), "closes_at"), std::to_string(kOpenS));
  // Active sessions live on.
  EXPECT_EQ(run(s().tick("q", kOpen + 1000)).value(), 0);
  EXPECT_EQ(events_of(*h_, EventType::closed).size(), 1u);
  EXPECT_EQ(ticket(*h_, ts[0].id, kOpen + 1000).state, TicketState::active);
  EXPECT_EQ(run(s().complete("q", ts[1].id, kOpen + 1001))->reason, EndReason::completed);
  EXPECT_EQ(ticket(*h_, ts[0].id, kOpen + 1002).state, TicketState::active);
  // Reopened with closes_at cleared, it stays open.
  ConfigPatch reopen;
  reopen.closes_at.emplace();
  auto re = run(s().put_queue("q", reopen, kOpen + 2000));
  ASSERT_TRUE(re.ok()) << re.error().message;
  EXPECT_FALSE(re->closed);
  EXPECT_FALSE(re->config.closes_at);
  EXPECT_EQ(run(s().tick("q", kOpen + 3000)).value(), 0);
  EXPECT_FALSE(run(s().get_queue("q"))->closed);
  EXPECT_TRUE(run(s().join("q", "", kOpen + 3001)).ok());
}

TEST_P(StoreConformance, ModeRandom) {
  ConfigPatch p = onsale(0, 50);
  p.mode = Mode::random;
  ASSERT_TRUE(run(s().put_queue("q", p, T0)).ok());
  auto ts = enter(*h_, 10, kPre);
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  std::vector<std::string> late;
  for (int i = 0; i < 400; ++i) {
    auto t = run(s().join("q", "", kOpen + 1));
    ASSERT_TRUE(t.ok());
    ASSERT_EQ(t->state, TicketState::waiting);
    late.push_back(t->id);
  }
  ConfigPatch go;
  go.admit_per_s = 50;
  ASSERT_TRUE(run(s().put_queue("q", go, kOpen + 2)).ok());
  for (int i = 1; i <= 100 && run(s().get_queue("q"))->stats.admitted_total < 50; ++i)
    ASSERT_TRUE(run(s().tick("q", kOpen + 2 + 100 * i)).ok());
  auto admitted = events_of(*h_, EventType::admitted);
  ASSERT_EQ(admitted.size(), 50u);  // max_active 50
  // The draw is already a uniformly random order: entrants first, in it.
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(ticket(*h_, admitted[i].ticket, kOpen + 20'000).place, static_cast<int64_t>(i) + 1);
  // Then the lottery among the 400 post-open joiners: 40 of them, not the first 40 (a false
  // fail has probability 1 / C(400, 40) < 1e-50), each one that was waiting.
  std::set<std::string> picked, first40(late.begin(), late.begin() + 40),
      all_late(late.begin(), late.end());
  for (size_t i = 10; i < 50; ++i) {
    EXPECT_EQ(all_late.count(admitted[i].ticket), 1u) << i;
    picked.insert(admitted[i].ticket);
  }
  EXPECT_EQ(picked.size(), 40u);
  EXPECT_NE(picked, first40);
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->stats.waiting, 360);
  EXPECT_EQ(info->stats.active, 50);
  for (auto& id : late)
    EXPECT_EQ(ticket(*h_, id, kOpen + 20'000).state,
              picked.count(id) ? TicketState::active : TicketState::waiting);
}

TEST_P(StoreConformance, ModePassthrough) {
  ConfigPatch p = cfg(0, 5);  // the rate is ignored
  p.mode = Mode::passthrough;
  ASSERT_TRUE(run(s().put_queue("q", p, T0)).ok());
  std::vector<Ticket> ts;
  for (int i = 0; i < 8; ++i) {
    auto t = run(s().join("q", "", T0 + i));
    ASSERT_TRUE(t.ok());
    ts.push_back(*t);
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ts[i].state, TicketState::active) << i;
  for (int i = 5; i < 8; ++i) EXPECT_EQ(ts[i].position, i - 4) << i;
  EXPECT_EQ(run(s().tick("q", T0 + 1000)).value(), 0);  // full
  // The rest as slots free, from the head.
  ASSERT_TRUE(run(s().complete("q", ts[0].id, T0 + 1001)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 1002)).value(), 1);
  EXPECT_EQ(ticket(*h_, ts[5].id, T0 + 1002).state, TicketState::active);
  ASSERT_TRUE(run(s().leave("q", ts[1].id, T0 + 1003)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 1003)).value(), 1);
  EXPECT_EQ(ticket(*h_, ts[6].id, T0 + 1003).state, TicketState::active);
  EXPECT_EQ(ticket(*h_, ts[7].id, T0 + 1003).position, 1);
  // More room: all of the backlog at once, whatever the rate.
  ConfigPatch more;
  more.max_active = 100;
  ASSERT_TRUE(run(s().put_queue("q", more, T0 + 1004)).ok());
  EXPECT_EQ(run(s().tick("q", T0 + 1004)).value(), 1);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(run(s().join("q", "", T0 + 1005 + i))->state, TicketState::active) << i;
  EXPECT_EQ(run(s().get_queue("q"))->stats.active, 26);
}

TEST_P(StoreConformance, ModeReject) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  auto a = run(s().join("q", "u:a", T0));
  auto b = run(s().join("q", "", T0));
  auto c = run(s().join("q", "", T0));
  ConfigPatch p;
  p.mode = Mode::reject;
  p.message = "Sold out for today";
  ASSERT_TRUE(run(s().put_queue("q", p, T0 + 1)).ok());
  auto r = run(s().join("q", "", T0 + 2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::joins_refused);
  EXPECT_EQ(detail(r.error(), "queue_message"), json_quote("Sold out for today"));
  EXPECT_EQ(run(s().join("q", "u:new", T0 + 2)).error().code, Errc::joins_refused);
  // A known dedupe key is not a join: it still gets its ticket.
  auto a2 = run(s().join("q", "u:a", T0 + 3));
  ASSERT_TRUE(a2.ok());
  EXPECT_FALSE(a2->created);
  EXPECT_EQ(a2->id, a->id);
  EXPECT_EQ(a2->position, 1);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 3);
  // Those waiting are still admitted.
  ConfigPatch go;
  go.admit_per_s = 10;
  ASSERT_TRUE(run(s().put_queue("q", go, T0 + 4)).ok());
  for (int i = 1; i <= 100 && run(s().get_queue("q"))->stats.admitted_total < 3; ++i)
    ASSERT_TRUE(run(s().tick("q", T0 + 4 + 100 * i)).ok());
  for (auto* t : {&a, &b, &c})
    EXPECT_EQ(ticket(*h_, (*t)->id, T0 + 20'000).state, TicketState::active);
  // Back to fifo: joins again.
  ConfigPatch fifo;
  fifo.mode = Mode::fifo;
  ASSERT_TRUE(run(s().put_queue("q", fifo, T0 + 20'001)).ok());
  EXPECT_TRUE(run(s().join("q", "", T0 + 20'002)).ok());
}

TEST_P(StoreConformance, DrawPagesAndSeedVisibility) {
  ASSERT_TRUE(run(s().put_queue("plain", cfg(0, 10), T0)).ok());
  EXPECT_EQ(run(s().draw_page("plain", 0, 10)).error().code, Errc::no_draw);
  EXPECT_EQ(run(s().get_queue("plain"))->draw.state, DrawState::none);
  EXPECT_EQ(run(s().get_queue("plain"))->draw.commitment, "");
  EXPECT_EQ(run(s().draw_page("nope", 0, 10)).error().code, Errc::queue_not_found);
  ASSERT_TRUE(run(s().put_queue("q", onsale(), T0)).ok());
  auto pre = run(s().draw_page("q", 0, 10));
  ASSERT_TRUE(pre.ok()) << pre.error().message;
  EXPECT_EQ(pre->info.state, DrawState::prequeue);
  const std::string commitment = pre->info.commitment;
  EXPECT_TRUE(is_hex64(commitment));
  EXPECT_EQ(pre->info.entrants, 0);
  auto ts = enter(*h_, 25, kPre);
  pre = run(s().draw_page("q", 0, 10));
  ASSERT_TRUE(pre.ok());
  EXPECT_EQ(pre->info.state, DrawState::prequeue);
  EXPECT_EQ(pre->info.entrants, 25);
  EXPECT_TRUE(pre->info.seed.empty());  // never before the draw
  EXPECT_TRUE(pre->entries.empty());
  EXPECT_TRUE(run(s().get_queue("q"))->draw.seed.empty());
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  auto p1 = run(s().draw_page("q", 0, 10));
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->info.state, DrawState::drawn);
  EXPECT_EQ(p1->info.entrants, 25);
  EXPECT_EQ(p1->info.drawn_at_ms, kOpen);
  EXPECT_EQ(p1->info.commitment, commitment);
  ASSERT_TRUE(is_hex64(p1->info.seed));
  EXPECT_EQ(draw::commitment(*draw::from_hex(p1->info.seed)), commitment);
  EXPECT_EQ(p1->info.base, events_of(*h_, EventType::drawn).at(0).order);
  EXPECT_TRUE(run(s().get_queue("q"))->draw.seed.empty());  // only the draw page shows it
  EXPECT_EQ(run(s().get_queue("q"))->draw.commitment, commitment);
  auto p2 = run(s().draw_page("q", 10, 10));
  auto p3 = run(s().draw_page("q", 20, 10));
  auto p4 = run(s().draw_page("q", 25, 10));
  auto all = run(s().draw_page("q", 0, 10000));
  ASSERT_TRUE(p2.ok() && p3.ok() && p4.ok() && all.ok());
  EXPECT_EQ(p1->entries.size(), 10u);
  EXPECT_EQ(p2->entries.size(), 10u);
  EXPECT_EQ(p3->entries.size(), 5u);
  EXPECT_TRUE(p4->entries.empty());
  std::vector<std::string> joined = p1->entries;
  joined.insert(joined.end(), p2->entries.begin(), p2->entries.end());
  joined.insert(joined.end(), p3->entries.begin(), p3->entries.end());
  EXPECT_EQ(joined, all->entries);
  EXPECT_EQ(std::set<std::string>(joined.begin(), joined.end()).size(), 25u);
  std::vector<std::string> entry_ids;
  for (auto& t : ts) entry_ids.push_back(draw::entry_id(t.id));
  EXPECT_EQ(all->entries, recompute(all->info.seed, entry_ids));
}

TEST_P(StoreConformance, PlacesAnswersEachTicketsPlace) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(), T0)).ok());
  auto ts = enter(*h_, 6, kPre);
  std::vector<std::string> ids;
  for (auto& t : ts) ids.push_back(t.id);
  EXPECT_EQ(run(s().places("q", ids)).value(), std::vector<int64_t>(6, 0));  // not drawn yet
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  auto late = run(s().join("q", "", kOpen + 1));
  ids.push_back(late->id);
  ids.push_back("AAAAAAAAAAAAAAAAAAAAAA");
  ids.push_back("not a ticket");
  auto places = run(s().places("q", ids));
  ASSERT_TRUE(places.ok());
  ASSERT_EQ(places->size(), 9u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ((*places)[i], ticket(*h_, ids[i], kOpen + 2).place);
  EXPECT_EQ(std::set<int64_t>(places->begin(), places->begin() + 6).size(), 6u);
  EXPECT_EQ((*places)[6], 0);
  EXPECT_EQ((*places)[7], 0);
  EXPECT_EQ((*places)[8], 0);
  EXPECT_EQ(run(s().places("nope", ids)).error().code, Errc::queue_not_found);
}

// Rebuilds the line a process would hold: the snapshot, then every later event applied.
PositionIndex replay(const QueueSnapshot& snap, const std::vector<Event>& events) {
  PositionIndex line;
  line.assign(snap.waiting_orders);
  for (auto& e : events) {
    if (e.seq <= snap.info.seq) continue;
    switch (e.type) {
      case EventType::joined:
        line.insert(e.order);
        break;
      case EventType::drawn:
        for (uint64_t o = e.order + 1; o <= e.order + static_cast<uint64_t>(e.expires_ms); ++o)
          line.insert(o);
        break;
      case EventType::admitted:
      case EventType::left:
      case EventType::abandoned:
      case EventType::expired:
      case EventType::completed:
        line.erase(e.order);
        break;
      case EventType::closed:
        line.clear();
        break;
      default:
        break;  // entered: not in the line until the draw
    }
  }
  return line;
}

TEST_P(StoreConformance, SnapshotPlusEventsEqualsStorePositionsAfterTheDraw) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(0, 1000), T0)).ok());
  auto ts = enter(*h_, 12, kPre);
  auto before = run(s().snapshot("q"));  // during the pre-queue
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->waiting_orders.empty());
  EXPECT_EQ(before->info.draw.state, DrawState::prequeue);
  EXPECT_EQ(before->info.draw.entrants, 12);
  ASSERT_TRUE(run(s().leave("q", ts[3].id, kPre + 100)).ok());
  ASSERT_TRUE(run(s().leave("q", ts[8].id, kPre + 101)).ok());
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  std::vector<std::string> late;
  for (int i = 0; i < 3; ++i) late.push_back(run(s().join("q", "", kOpen + 1 + i))->id);
  auto after = run(s().snapshot("q"));  // after the draw: entrants as orders base + place
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->info.draw.state, DrawState::drawn);
  EXPECT_EQ(after->info.draw.entrants, 10);
  std::set<std::string> live;
  for (auto& t : ts)
    if (t.id != ts[3].id && t.id != ts[8].id) live.insert(t.id);
  live.insert(late.begin(), late.end());
  std::vector<uint64_t> want;
  for (auto& id : live) want.push_back(ticket(*h_, id, kOpen + 5).order);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(after->waiting_orders, want);
  // Changes after both snapshots: entrants leave, some are admitted, joins, a post-open leave.
  ASSERT_TRUE(run(s().leave("q", ts[0].id, kOpen + 10)).ok());
  ASSERT_TRUE(run(s().leave("q", ts[11].id, kOpen + 11)).ok());
  ASSERT_TRUE(run(s().leave("q", late[0], kOpen + 12)).ok());
  ConfigPatch go;
  go.admit_per_s = 3;
  go.max_active = 3;
  ASSERT_TRUE(run(s().put_queue("q", go, kOpen + 20)).ok());
  for (int i = 1; i <= 100 && run(s().get_queue("q"))->stats.admitted_total < 3; ++i)
    ASSERT_TRUE(run(s().tick("q", kOpen + 20 + 100 * i)).ok());
  for (int i = 0; i < 2; ++i) late.push_back(run(s().join("q", "", kOpen + 20'000 + i))->id);
  auto events = h_->events("q");
  live.insert(late.begin(), late.end());
  for (auto* snap : {&before.value(), &after.value()}) {
    auto line = replay(*snap, events);
    int64_t waiting = 0;
    for (auto& id : live) {
      auto t = ticket(*h_, id, kOpen + 20'010);
      if (t.state != TicketState::waiting) {
        EXPECT_FALSE(line.contains(t.order)) << id;
        continue;
      }
      ++waiting;
      EXPECT_TRUE(line.contains(t.order)) << id;
      EXPECT_EQ(line.rank(t.order), t.position) << id;
    }
    EXPECT_EQ(line.size(), waiting);
    EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, waiting);
  }
}

TEST_P(StoreConformance, MessageRoundTrip) {
  ConfigPatch p = cfg(0, 10);
  const std::string text =
      "Doors open at 19:00.\nBring your ID \xe2\x80\x94 \xc2\xa1gracias! \xe2\x9c\x93";
  p.message = text;
  p.mode = Mode::random;
  p.closes_at = kOpenS + 7200;
  auto a = run(s().put_queue("q", p, T0));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->config.message, text);
  auto got = run(s().get_queue("q"));
  EXPECT_EQ(got->config.message, text);
  EXPECT_EQ(got->config.mode, Mode::random);
  EXPECT_EQ(got->config.closes_at, kOpenS + 7200);
  EXPECT_EQ(run(s().list_queues())->at(0).config.message, text);
  EXPECT_EQ(h_->events("q").back().type, EventType::config_changed);
  // 500 code points (1,000 bytes) are allowed; 501, a control character, bad UTF-8 are not.
  std::string longest;
  for (int i = 0; i < 500; ++i) longest += "\xc3\xa9";
  ConfigPatch m;
  m.message = longest;
  ASSERT_TRUE(run(s().put_queue("q", m, T0 + 1)).ok());
  EXPECT_EQ(run(s().get_queue("q"))->config.message, longest);
  for (std::string bad : {longest + "e", std::string("tab\there"), std::string("bell\x07"),
                          std::string("\xff\xfe"), std::string("\xc3")}) {
    m.message = bad;
    EXPECT_EQ(run(s().put_queue("q", m, T0 + 2)).error().code, Errc::bad_request);
  }
  EXPECT_EQ(run(s().get_queue("q"))->config.message, longest);
  // Cleared; closes_at unset by null; mode back.
  m.message = "";
  m.closes_at.emplace();
  m.mode = Mode::fifo;
  auto cleared = run(s().put_queue("q", m, T0 + 3));
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(run(s().get_queue("q"))->config.message, "");
  EXPECT_FALSE(run(s().get_queue("q"))->config.closes_at);
  EXPECT_EQ(run(s().get_queue("q"))->config.mode, Mode::fifo);
  for (Mode mode : {Mode::passthrough, Mode::reject, Mode::random, Mode::fifo}) {
    ConfigPatch mp;
    mp.mode = mode;
    ASSERT_TRUE(run(s().put_queue("q", mp, T0 + 4)).ok());
    EXPECT_EQ(run(s().get_queue("q"))->config.mode, mode);
  }
}

// Closing during the pre-queue voids the draw (no seed is ever shown); a reopen is a new epoch
// with a new seed. A done draw stays published while the queue is closed; reopened without a
// schedule, the old draw is no longer served.
TEST_P(StoreConformance, CloseBeforeTheDrawVoidsItAndAReopenIsANewEpoch) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(), T0)).ok());
  auto ts = enter(*h_, 3, kPre);
  const std::string c1 = run(s().get_queue("q"))->draw.commitment;
  // (Closed less than abandon_after_s before the tick at opens_at: not forgotten by it.)
  auto closed = run(s().close_queue("q", kOpen - 10'000));
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->draw.state, DrawState::void_);
  for (auto& t : ts) EXPECT_EQ(ticket(*h_, t.id, kOpen - 10'000).reason, EndReason::closed);
  auto v = run(s().draw_page("q", 0, 10));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->info.state, DrawState::void_);
  EXPECT_TRUE(v->info.seed.empty());
  EXPECT_TRUE(v->entries.empty());
  EXPECT_EQ(run(s().join("q", "", kOpen - 9'000)).error().code, Errc::queue_closed);
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  EXPECT_TRUE(events_of(*h_, EventType::drawn).empty());
  // Reopened with a later opens_at: a new seed, an empty pre-queue.
  ConfigPatch p;
  p.opens_at = kOpenS + 100;
  auto re = run(s().put_queue("q", p, kOpen + 1));
  ASSERT_TRUE(re.ok()) << re.error().message;
  EXPECT_FALSE(re->closed);
  EXPECT_FALSE(re->created);
  EXPECT_EQ(re->draw.state, DrawState::prequeue);
  EXPECT_EQ(re->draw.entrants, 0);
  EXPECT_TRUE(is_hex64(re->draw.commitment));
  EXPECT_NE(re->draw.commitment, c1);
  auto t = enter(*h_, 1, kOpen + 2);
  ASSERT_EQ(t.size(), 1u);
  ASSERT_TRUE(run(s().tick("q", (kOpenS + 100) * 1000)).ok());
  ASSERT_EQ(events_of(*h_, EventType::drawn).size(), 1u);
  auto d = whole_draw(*h_);
  EXPECT_EQ(d.info.state, DrawState::drawn);
  EXPECT_EQ(d.info.commitment, re->draw.commitment);
  EXPECT_EQ(draw::commitment(*draw::from_hex(d.info.seed)), re->draw.commitment);
  EXPECT_EQ(d.entries, std::vector<std::string>{draw::entry_id(t[0].id)});
  // Closed after the draw: still published.
  ASSERT_TRUE(run(s().close_queue("q", (kOpenS + 101) * 1000)).ok());
  auto kept = whole_draw(*h_);
  EXPECT_EQ(kept.info.state, DrawState::drawn);
  EXPECT_EQ(kept.entries, d.entries);
  // Reopened without a schedule: the old draw is gone.
  ConfigPatch plain;
  plain.prequeue_at.emplace();
  plain.opens_at.emplace();
  auto again = run(s().put_queue("q", plain, (kOpenS + 102) * 1000));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->draw.state, DrawState::none);
  auto gone = run(s().draw_page("q", 0, 10));
  if (gone.ok()) {
    EXPECT_EQ(gone->info.state, DrawState::none);
    EXPECT_TRUE(gone->entries.empty());
    EXPECT_TRUE(gone->info.seed.empty());
  } else {
    EXPECT_EQ(gone.error().code, Errc::no_draw);
  }
  auto plain_join = run(s().join("q", "", (kOpenS + 103) * 1000));
  ASSERT_TRUE(plain_join.ok());
  EXPECT_FALSE(plain_join->entrant);
  EXPECT_EQ(plain_join->state, TicketState::waiting);
  EXPECT_EQ(plain_join->position, 1);
}


}  // namespace
}  // namespace anteroom::conformance

// ---- Bots pay, guests skip (SPEC §8): the join's checks in their order, single use of a
// challenge, invite codes, skip-the-line tickets. The stores do not verify proofs (the edge
// does): a PowProof here is what the edge would hand over. Challenge expiries are far in the
// future (RedisStore's used mark expires on the Redis server's clock, not the caller's `now`).

namespace anteroom::conformance {
namespace {

constexpr Millis kFar = 4'102'444'800'000;  // 2100-01-01: a challenge that outlives the test

ConfigPatch guarded(int bits, bool invite_only, bool adaptive = false) {
  ConfigPatch p = cfg(0, 10);  // nobody admitted unless asked: positions stay put
  PowConfig w;
  w.bits = bits;
  w.adaptive = adaptive;
  p.pow = w;
  p.invite_only = invite_only;
  return p;
}

// What the edge hands the store for a checked proof.
PowProof proof(const std::string& id, int bits, PowVerdict v = PowVerdict::valid) {
  PowProof p;
  p.verdict = v;
  if (v == PowVerdict::valid) {
    p.bits = bits;
    p.id = id;
    p.expires_ms = kFar;
  }
  return p;
}
// A 22-character challenge id, distinct per n.
std::string cid(int n) {
  std::string s = "challenge" + std::to_string(n);
  s.resize(22, '_');
  return s;
}

JoinRequest jr(std::string invite, PowProof pw = {}, std::string key = "") {
  JoinRequest r;
  r.dedupe_key = std::move(key);
  r.invite = std::move(invite);
  r.pow = std::move(pw);
  return r;
}

std::vector<Invite> mint(StoreHarness& h, int64_t count, int64_t uses = 1, bool skip = false,
                         Millis expires_ms = 0, const std::string& q = "q") {
  InviteSpec spec;
  spec.count = count;
  spec.uses = uses;
  spec.skip = skip;
  spec.expires_ms = expires_ms;
  auto r = h.run(h.store().create_invites(q, spec, T0));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : std::vector<Invite>{};
}

std::vector<Invite> all_invites(StoreHarness& h, const std::string& q = "q") {
  std::vector<Invite> out;
  for (std::string after;;) {
    auto page = h.run(h.store().list_invites(q, after, 10'000));
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    if (!page.ok() || page->empty()) break;
    out.insert(out.end(), page->begin(), page->end());
    after = page->back().code;
  }
  return out;
}

Invite invite(StoreHarness& h, const std::string& code, const std::string& q = "q") {
  for (auto& i : all_invites(h, q))
    if (i.code == code) return i;
  ADD_FAILURE() << "no invite " << code;
  return {};
}

Errc refusal(const Result<Ticket>& r) { return r.ok() ? Errc::internal : r.error().code; }

size_t joins_seen(StoreHarness& h, const std::string& q = "q") {
  return events_of(h, EventType::joined, q).size() + events_of(h, EventType::entered, q).size();
}

// The checks in their order: the invite (required, then its state), then the proof (the
// edge's verdict, the bits the queue needs now, then single use). A refused join takes
// nothing: no use of the code, no mark of the challenge, no event.
TEST_P(StoreConformance, JoinChecksComeInTheirOrderAndARefusalConsumesNothing) {
  ASSERT_TRUE(run(s().put_queue("q", guarded(10, true, true), T0)).ok());
  const std::string code = mint(*h_, 1, 5).at(0).code;
  std::string unknown = code;
  unknown[0] = unknown[0] == 'A' ? 'B' : 'A';
  // No code in an invite-only queue: invite_required, even with no proof either.
  EXPECT_EQ(refusal(run(s().join("q", jr(""), T0 + 1))), Errc::invite_required);
  EXPECT_EQ(refusal(run(s().join("q", jr("", proof(cid(1), 10)), T0 + 1))),
            Errc::invite_required);
  // An unknown code before the proof is looked at.
  EXPECT_EQ(refusal(run(s().join("q", jr(unknown, proof(cid(1), 10)), T0 + 1))),
            Errc::invite_invalid);
  // A good code, then every proof verdict, each with the bits the queue needs.
  const std::pair<PowVerdict, Errc> verdicts[] = {
      {PowVerdict::none, Errc::pow_required},
      {PowVerdict::invalid, Errc::pow_invalid},
      {PowVerdict::wrong_queue, Errc::pow_wrong_queue},
      {PowVerdict::expired, Errc::pow_expired},
      {PowVerdict::insufficient, Errc::pow_insufficient}};
  for (auto [v, want] : verdicts) {
    auto r = run(s().join("q", jr(code, proof(cid(1), 10, v)), T0 + 2));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, want);
    EXPECT_EQ(detail(r.error(), "bits"), "10");
  }
  // Valid but for fewer bits than the queue needs now (adaptive: + the edge's extra bits).
  PowProof low = proof(cid(1), 12);
  low.extra_bits = 3;
  auto r = run(s().join("q", jr(code, low), T0 + 3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::pow_insufficient);
  EXPECT_EQ(detail(r.error(), "bits"), "13");
  EXPECT_EQ(invite(*h_, code).used, 0);
  EXPECT_EQ(joins_seen(*h_), 0u);
  // The challenge the refused joins carried was not marked: it still makes a join.
  PowProof ok = proof(cid(1), 13);
  ok.extra_bits = 3;
  auto first = run(s().join("q", jr(code, ok), T0 + 4));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(first->skip);
  EXPECT_EQ(invite(*h_, code).used, 1);
  // Used once: refused the second time, with a good code; the code's use is not taken.
  auto again = run(s().join("q", jr(code, ok), T0 + 5));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::pow_used);
  EXPECT_EQ(detail(again.error(), "bits"), "13");
  EXPECT_EQ(invite(*h_, code).used, 1);
  // A join refused for its code does not mark its (good, new) challenge.
  EXPECT_EQ(refusal(run(s().join("q", jr(unknown, proof(cid(2), 10)), T0 + 6))),
            Errc::invite_invalid);
  ASSERT_TRUE(run(s().join("q", jr(code, proof(cid(2), 10)), T0 + 7)).ok());
  EXPECT_EQ(invite(*h_, code).used, 2);
  EXPECT_EQ(joins_seen(*h_), 2u);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 2);
  // The rules before these still come first: a closed queue is closed.
  ASSERT_TRUE(run(s().close_queue("q", T0 + 8)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(""), T0 + 9))), Errc::queue_closed);
}

// A join whose dedupe key has a live ticket gets it back before any check: an idempotent retry
// with the same proof (already marked) and code (already counted) is not refused.
TEST_P(StoreConformance, DedupeComesBeforeTheChecks) {
  ASSERT_TRUE(run(s().put_queue("q", guarded(8, true), T0)).ok());
  const std::string code = mint(*h_, 1).at(0).code;  // one use
  auto a = run(s().join("q", jr(code, proof(cid(1), 8), "u:alice"), T0 + 1));
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto retry = run(s().join("q", jr(code, proof(cid(1), 8), "u:alice"), T0 + 2));
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  EXPECT_EQ(retry->id, a->id);
  EXPECT_FALSE(retry->created);
  auto bare = run(s().join("q", jr("", {}, "u:alice"), T0 + 3));
  ASSERT_TRUE(bare.ok()) << bare.error().message;
  EXPECT_EQ(bare->id, a->id);
  EXPECT_EQ(invite(*h_, code).used, 1);
  // Another user with the same code and proof: the code is used up (checked first).
  EXPECT_EQ(refusal(run(s().join("q", jr(code, proof(cid(1), 8), "u:bob"), T0 + 4))),
            Errc::invite_used_up);
  // Once alice's ticket ended, her key joins anew and is checked like any join.
  ASSERT_TRUE(run(s().leave("q", a->id, T0 + 5)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr("", {}, "u:alice"), T0 + 6))), Errc::invite_required);
}

// A queue needing no proof ignores one (whatever its verdict) and marks nothing.
TEST_P(StoreConformance, AQueueWithoutProofOfWorkIgnoresProofs) {
  ASSERT_TRUE(run(s().put_queue("q", guarded(0, false), T0)).ok());
  for (PowVerdict v : {PowVerdict::invalid, PowVerdict::expired, PowVerdict::valid,
                       PowVerdict::valid})
    EXPECT_TRUE(run(s().join("q", jr("", proof(cid(1), 20, v)), T0 + 1)).ok());
  // Turned on: the same (valid) challenge is good once.
  ASSERT_TRUE(run(s().put_queue("q", guarded(20, false), T0 + 2)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(""), T0 + 3))), Errc::pow_required);
  EXPECT_TRUE(run(s().join("q", jr("", proof(cid(1), 20)), T0 + 4)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr("", proof(cid(1), 20)), T0 + 5))), Errc::pow_used);
  // Not adaptive: the edge's extra bits do not count.
  PowProof p = proof(cid(2), 20);
  p.extra_bits = 4;
  EXPECT_TRUE(run(s().join("q", jr("", p), T0 + 6)).ok());
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 6);
}

// Single use holds across queues too (a challenge is bound to one queue by the edge; the mark is
// the challenge's, whatever queue the join names) and under joins issued together.
TEST_P(StoreConformance, AChallengeMakesOneJoinUnderConcurrentJoins) {
  ASSERT_TRUE(run(s().put_queue("q", guarded(5, false), T0)).ok());
  std::vector<boost::asio::awaitable<Result<Ticket>>> tasks;
  for (int i = 0; i < 20; ++i)
    tasks.push_back(s().join("q", jr("", proof(cid(i % 4), 5)), T0 + i));
  auto results = run_all(std::move(tasks));
  std::map<int, int> ok_of;
  for (int i = 0; i < 20; ++i) {
    if (results[i].ok()) {
      ++ok_of[i % 4];
      EXPECT_LT(i, 4) << "the first join of each challenge makes the ticket";
    } else {
      EXPECT_EQ(results[i].error().code, Errc::pow_used) << i;
    }
  }
  EXPECT_EQ(ok_of, (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}, {3, 1}}));
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 4);
}

TEST_P(StoreConformance, InviteCodesAreCheckedOnEveryQueue) {
  ASSERT_TRUE(run(s().put_queue("q", guarded(0, false), T0)).ok());
  const std::string multi = mint(*h_, 1, 3).at(0).code;
  const std::string once = mint(*h_, 1, 1).at(0).code;
  const std::string soon = mint(*h_, 1, 5, false, T0 + 1000).at(0).code;
  const std::string gone = mint(*h_, 1, 5).at(0).code;
  // Not invite-only: a join without a code is fine; a bad code is refused, not ignored.
  EXPECT_TRUE(run(s().join("q", jr(""), T0 + 1)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr("0000000000000000"), T0 + 1))), Errc::invite_invalid);
  // A multi-use code: three joins, then used up.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(s().join("q", jr(multi), T0 + 2)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(multi), T0 + 3))), Errc::invite_used_up);
  Invite m = invite(*h_, multi);
  EXPECT_EQ(m.used, 3);
  EXPECT_EQ(m.uses, 3);
  ASSERT_TRUE(run(s().join("q", jr(once), T0 + 3)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(once), T0 + 3))), Errc::invite_used_up);
  // Expiry: good until expires_ms, refused from then on.
  ASSERT_TRUE(run(s().join("q", jr(soon), T0 + 999)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(soon), T0 + 1000))), Errc::invite_expired);
  EXPECT_EQ(invite(*h_, soon).used, 1);
  // Revoked: refused; revoking again returns it unchanged; the tickets it made stay.
  auto made = run(s().join("q", jr(gone), T0 + 4));
  ASSERT_TRUE(made.ok());
  auto rv = run(s().revoke_invite("q", gone, T0 + 5));
  ASSERT_TRUE(rv.ok()) << rv.error().message;
  EXPECT_TRUE(rv->revoked);
  EXPECT_EQ(rv->used, 1);
  auto rv2 = run(s().revoke_invite("q", gone, T0 + 6));
  ASSERT_TRUE(rv2.ok());
  EXPECT_EQ(*rv2, *rv);
  EXPECT_EQ(refusal(run(s().join("q", jr(gone), T0 + 7))), Errc::invite_revoked);
  EXPECT_EQ(ticket(*h_, made->id, T0 + 7).state, TicketState::waiting);
  EXPECT_EQ(run(s().revoke_invite("q", "0000000000000000", T0)).error().code,
            Errc::invite_not_found);
  EXPECT_EQ(run(s().revoke_invite("nope", gone, T0)).error().code, Errc::queue_not_found);
  // Revoked beats expired and used up (rules::invite_refusal's order).
  ASSERT_TRUE(run(s().revoke_invite("q", multi, T0 + 8)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(multi), T0 + 9))), Errc::invite_revoked);
  // Invite-only now: a code is needed; a good one still works.
  ASSERT_TRUE(run(s().put_queue("q", guarded(0, true), T0 + 10)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(""), T0 + 11))), Errc::invite_required);
  EXPECT_TRUE(run(s().join("q", jr(mint(*h_, 1).at(0).code), T0 + 11)).ok());
  // A code of another queue is no code here.
  ASSERT_TRUE(run(s().put_queue("other", guarded(0, false), T0)).ok());
  const std::string theirs = mint(*h_, 1, 1, false, 0, "other").at(0).code;
  EXPECT_EQ(refusal(run(s().join("q", jr(theirs), T0 + 12))), Errc::invite_invalid);
}

TEST_P(StoreConformance, InvitesAreMintedListedAndBounded) {
  EXPECT_EQ(run(s().create_invites("q", InviteSpec{}, T0)).error().code, Errc::queue_not_found);
  EXPECT_EQ(run(s().list_invites("q", "", 10)).error().code, Errc::queue_not_found);
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  EXPECT_TRUE(all_invites(*h_).empty());
  InviteSpec spec;
  spec.count = 25;
  spec.uses = 7;
  spec.expires_ms = T0 + 86'400'000;
  spec.skip = true;
  spec.label = "members \xe2\x80\x94 presale";
  auto made = run(s().create_invites("q", spec, T0 + 5));
  ASSERT_TRUE(made.ok()) << made.error().message;
  ASSERT_EQ(made->size(), 25u);
  std::set<std::string> codes;
  for (auto& i : *made) {
    EXPECT_TRUE(rules::valid_invite_code(i.code)) << i.code;
    EXPECT_EQ(i.uses, 7);
    EXPECT_EQ(i.used, 0);
    EXPECT_EQ(i.expires_ms, T0 + 86'400'000);
    EXPECT_TRUE(i.skip);
    EXPECT_FALSE(i.revoked);
    EXPECT_EQ(i.created_ms, T0 + 5);
    EXPECT_EQ(i.label, spec.label);
    codes.insert(i.code);
  }
  EXPECT_EQ(codes.size(), 25u);
  // Pages in code order, `after` exclusive.
  std::vector<Invite> paged;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = run(s().list_invites("q", after, 10));
    ASSERT_TRUE(page.ok()) << page.error().message;
    EXPECT_LE(page->size(), 10u);
    if (page->empty()) break;
    paged.insert(paged.end(), page->begin(), page->end());
    after = page->back().code;
  }
  ASSERT_EQ(paged.size(), 25u);
  for (size_t i = 0; i < paged.size(); ++i) {
    if (i) {
      EXPECT_LT(paged[i - 1].code, paged[i].code);
    }
    EXPECT_TRUE(codes.contains(paged[i].code));
    auto same = std::find_if(made->begin(), made->end(),
                             [&](const Invite& m) { return m.code == paged[i].code; });
    ASSERT_NE(same, made->end());
    EXPECT_EQ(*same, paged[i]);
  }
  auto tail = run(s().list_invites("q", paged[20].code, 10));
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->size(), 4u);
  // Bounds of a mint and of a page.
  std::vector<InviteSpec> bads(5);
  bads[0].count = 0;
  bads[1].count = 10'001;
  bads[2].uses = 0;
  bads[3].uses = 1'000'001;
  bads[4].expires_ms = T0;
  for (const InviteSpec& bad : bads) {
    auto r = run(s().create_invites("q", bad, T0 + 10));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::bad_request);
  }
  InviteSpec wordy{.label = std::string(101, 'x')};
  EXPECT_EQ(run(s().create_invites("q", wordy, T0)).error().code, Errc::bad_request);
  EXPECT_EQ(run(s().list_invites("q", "", 0)).error().code, Errc::bad_request);
  EXPECT_EQ(run(s().list_invites("q", "", 10'001)).error().code, Errc::bad_request);
  EXPECT_EQ(all_invites(*h_).size(), 25u);
}

TEST_P(StoreConformance, AQueueHoldsAtMostItsInviteLimit) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  // 100,000 in ten mints of 10,000 (revoked ones count too).
  for (int i = 0; i < 9; ++i)
    ASSERT_EQ(mint(*h_, rules::kMaxInviteMint).size(), static_cast<size_t>(rules::kMaxInviteMint));
  ASSERT_EQ(mint(*h_, rules::kMaxInviteMint - 1).size(), 9'999u);
  const std::string last = mint(*h_, 1).at(0).code;
  ASSERT_TRUE(run(s().revoke_invite("q", last, T0)).ok());
  auto over = run(s().create_invites("q", InviteSpec{}, T0));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, Errc::too_many_invites);
  EXPECT_EQ(all_invites(*h_).size(), 100'000u);
  // Another queue has its own.
  ASSERT_TRUE(run(s().put_queue("r", cfg(0, 10), T0)).ok());
  EXPECT_EQ(mint(*h_, 2, 1, false, 0, "r").size(), 2u);
}

// Codes stay through close and reopen (an operator mints ahead of the sale, and a reopen is the
// same event's next round); they go with the queue when it is forgotten.
TEST_P(StoreConformance, InvitesLastUntilTheQueueIsForgotten) {
  ASSERT_TRUE(run(s().put_queue("q", guarded(0, true), T0)).ok());
  auto codes = mint(*h_, 3, 2);
  ASSERT_EQ(codes.size(), 3u);
  ASSERT_TRUE(run(s().join("q", jr(codes[0].code), T0 + 1)).ok());
  ASSERT_TRUE(run(s().close_queue("q", T0 + 2)).ok());
  auto while_closed = all_invites(*h_);
  ASSERT_EQ(while_closed.size(), 3u);
  EXPECT_EQ(invite(*h_, codes[0].code).used, 1);
  // Minting and revoking work on a closed queue too.
  ASSERT_EQ(mint(*h_, 1).size(), 1u);
  ASSERT_TRUE(run(s().revoke_invite("q", codes[2].code, T0 + 3)).ok());
  ASSERT_TRUE(run(s().put_queue("q", {}, T0 + 4)).ok());  // reopened
  EXPECT_EQ(all_invites(*h_).size(), 4u);
  ASSERT_TRUE(run(s().join("q", jr(codes[0].code), T0 + 5)).ok());
  EXPECT_EQ(refusal(run(s().join("q", jr(codes[0].code), T0 + 6))), Errc::invite_used_up);
  EXPECT_EQ(refusal(run(s().join("q", jr(codes[2].code), T0 + 6))), Errc::invite_revoked);
  // Closed with nobody active: forgotten at the first tick past the grace.
  ASSERT_TRUE(run(s().close_queue("q", T0 + 7)).ok());
  ASSERT_TRUE(run(s().tick("q", T0 + 7 + 31'000)).ok());
  ASSERT_EQ(run(s().get_queue("q")).error().code, Errc::queue_not_found);
  EXPECT_EQ(run(s().list_invites("q", "", 10)).error().code, Errc::queue_not_found);
  EXPECT_EQ(run(s().revoke_invite("q", codes[1].code, T0)).error().code, Errc::queue_not_found);
  ASSERT_TRUE(run(s().put_queue("q", guarded(0, false), T0 + 40'000)).ok());
  EXPECT_TRUE(all_invites(*h_).empty());
  EXPECT_EQ(refusal(run(s().join("q", jr(codes[1].code), T0 + 40'001))), Errc::invite_invalid);
}


// ---- Skip the line ------------------------------------------------------------------------

int64_t pos(StoreHarness& h, const std::string& id, Millis now) {
  return ticket(h, id, now).position;
}

// Skippers wait ahead of the whole line, first come first served, and are admitted without
// tokens as soon as max_active allows, never beyond it.
TEST_P(StoreConformance, SkippersGoAheadOfTheLineWithinMaxActive) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 2), T0)).ok());  // rate 0: the line never moves
  std::vector<std::string> line;
  for (int i = 0; i < 3; ++i) line.push_back(run(s().join("q", "", T0 + i))->id);
  const std::string code = mint(*h_, 1, 10, true).at(0).code;
  std::vector<Ticket> sk;
  for (int i = 0; i < 4; ++i) {
    auto t = run(s().join("q", jr(code), T0 + 10 + i));
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_TRUE(t->skip);
    EXPECT_TRUE(t->created);
    EXPECT_FALSE(t->entrant);
    EXPECT_EQ(t->order, rules::kSkipOrder + 1 + i);
    EXPECT_TRUE(rules::is_skip(t->order));
    sk.push_back(*t);
  }
  // The first two found a free slot at their join; the others wait at the head.
  EXPECT_EQ(sk[0].state, TicketState::active);
  EXPECT_EQ(sk[1].state, TicketState::active);
  EXPECT_EQ(sk[2].state, TicketState::waiting);
  EXPECT_EQ(sk[2].position, 1);
  EXPECT_EQ(sk[3].position, 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pos(*h_, line[i], T0 + 20), 3 + i);
  EXPECT_TRUE(ticket(*h_, sk[3].id, T0 + 20).skip);
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->stats.active, 2);
  EXPECT_EQ(info->stats.waiting, 5);
  EXPECT_EQ(info->stats.oldest_joined_ms, T0);
  // The joins' events: joined (the skip order), admitted for the two that went in.
  auto joined = events_of(*h_, EventType::joined);
  ASSERT_EQ(joined.size(), 7u);
  EXPECT_EQ(joined[3].order, rules::kSkipOrder + 1);
  EXPECT_EQ(joined[6].ticket, sk[3].id);
  auto admitted = events_of(*h_, EventType::admitted);
  ASSERT_EQ(admitted.size(), 2u);
  EXPECT_EQ(admitted[0].ticket, sk[0].id);
  EXPECT_EQ(admitted[1].order, rules::kSkipOrder + 2);
  // Full: nobody, however long.
  EXPECT_EQ(run(s().tick("q", T0 + 10'000)).value(), 0);
  // A slot frees: the head skipper, without a token (rate 0).
  ASSERT_TRUE(run(s().complete("q", sk[0].id, T0 + 10'001)).ok());
  EXPECT_GT(run(s().tick("q", T0 + 10'002)).value(), 0);
  EXPECT_EQ(ticket(*h_, sk[2].id, T0 + 10'003).state, TicketState::active);
  EXPECT_EQ(pos(*h_, sk[3].id, T0 + 10'003), 1);
  EXPECT_EQ(pos(*h_, line[0], T0 + 10'003), 2);
  // A waiting skipper leaves: the line moves up.
  auto left = run(s().leave("q", sk[3].id, T0 + 10'004));
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->reason, EndReason::left);
  EXPECT_TRUE(left->skip);
  EXPECT_EQ(pos(*h_, line[0], T0 + 10'005), 1);
  EXPECT_EQ(events_of(*h_, EventType::left).back().order, rules::kSkipOrder + 4);
  EXPECT_EQ(run(s().get_queue("q"))->stats.active, 2);
  // A newcomer of the line never jumps a waiting skipper, even with a free slot at its join.
  auto s5 = run(s().join("q", jr(code), T0 + 10'006));
  ASSERT_TRUE(s5.ok());
  EXPECT_EQ(s5->state, TicketState::waiting);
  ConfigPatch more;
  more.max_active = 3;
  ASSERT_TRUE(run(s().put_queue("q", more, T0 + 10'007)).ok());
  auto late = run(s().join("q", "", T0 + 10'008));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->state, TicketState::waiting);
  EXPECT_EQ(late->position, 5);
  ASSERT_TRUE(run(s().tick("q", T0 + 10'009)).ok());
  EXPECT_EQ(ticket(*h_, s5->id, T0 + 10'010).state, TicketState::active);
  EXPECT_EQ(run(s().get_queue("q"))->stats.active, 3);
  EXPECT_EQ(run(s().get_queue("q"))->stats.admitted_total, 4);
}

// Paused: skippers wait too; unpaused, the tick admits them first, then the line by its rate.
TEST_P(StoreConformance, SkippersWaitWhilePausedAndGoFirstAfter) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(1, 10, true), T0)).ok());
  const std::string code = mint(*h_, 1, 10, true).at(0).code;
  auto l1 = run(s().join("q", "", T0 + 1));
  auto s1 = run(s().join("q", jr(code), T0 + 2));
  auto s2 = run(s().join("q", jr(code), T0 + 3));
  ASSERT_TRUE(s1.ok() && s2.ok() && l1.ok());
  EXPECT_EQ(s1->state, TicketState::waiting);
  EXPECT_EQ(s1->position, 1);
  EXPECT_EQ(s2->position, 2);
  EXPECT_EQ(pos(*h_, l1->id, T0 + 4), 3);
  EXPECT_EQ(run(s().tick("q", T0 + 5000)).value(), 0);
  ConfigPatch go;
  go.paused = false;
  ASSERT_TRUE(run(s().put_queue("q", go, T0 + 5001)).ok());
  ASSERT_TRUE(run(s().tick("q", T0 + 5002)).ok());
  auto adm = events_of(*h_, EventType::admitted);
  ASSERT_EQ(adm.size(), 3u);  // both skippers (no tokens), then one of the line (1 token)
  EXPECT_EQ(adm[0].ticket, s1->id);
  EXPECT_EQ(adm[1].ticket, s2->id);
  EXPECT_EQ(adm[2].ticket, l1->id);
}

// Before the draw skippers wait in the pre-queue with positions (not entrants: no place in the
// draw), and at the open they are admitted before every drawn entrant.
TEST_P(StoreConformance, SkippersInThePrequeueAreAdmittedFirstAtTheOpen) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(1, 3), T0)).ok());
  const std::string code = mint(*h_, 1, 10, true).at(0).code;
  auto ts = enter(*h_, 4, kPre);
  std::vector<Ticket> sk;
  for (int i = 0; i < 2; ++i) {
    auto t = run(s().join("q", jr(code), kPre + 100 + i));
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_TRUE(t->skip);
    EXPECT_FALSE(t->entrant);
    EXPECT_EQ(t->state, TicketState::waiting);
    EXPECT_EQ(t->position, i + 1);
    sk.push_back(*t);
  }
  EXPECT_EQ(events_of(*h_, EventType::joined).size(), 2u);
  EXPECT_EQ(run(s().get_queue("q"))->draw.entrants, 4);
  EXPECT_EQ(run(s().tick("q", kOpen - 1)).value(), 0);
  auto snap = run(s().snapshot("q"));
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->waiting_orders,
            (std::vector<uint64_t>{rules::kSkipOrder + 1, rules::kSkipOrder + 2}));
  ASSERT_TRUE(run(s().tick("q", kOpen)).ok());
  auto drawn = events_of(*h_, EventType::drawn);
  ASSERT_EQ(drawn.size(), 1u);
  EXPECT_EQ(drawn[0].expires_ms, 4);  // the entrants only
  for (auto& t : sk) EXPECT_EQ(ticket(*h_, t.id, kOpen).state, TicketState::active);
  EXPECT_EQ(run(s().places("q", {sk[0].id, sk[1].id})).value(), (std::vector<int64_t>{0, 0}));
  // Then the line: one token, one slot left: the entrant at place 1.
  int admitted_entrants = 0;
  for (auto& t : ts) {
    Ticket now = ticket(*h_, t.id, kOpen);
    if (now.state == TicketState::active) {
      ++admitted_entrants;
      EXPECT_EQ(now.place, 1);
    } else {
      EXPECT_EQ(now.position, now.place - 1);
    }
  }
  EXPECT_EQ(admitted_entrants, 1);
  auto adm = events_of(*h_, EventType::admitted);
  ASSERT_EQ(adm.size(), 3u);
  EXPECT_EQ(adm[0].ticket, sk[0].id);
  EXPECT_EQ(adm[1].ticket, sk[1].id);
  // A skipper after the open waits ahead of the drawn entrants (max_active reached).
  auto s3 = run(s().join("q", jr(code), kOpen + 1));
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(s3->position, 1);
  EXPECT_EQ(s3->order, rules::kSkipOrder + 3);
  for (auto& t : ts) {
    Ticket now = ticket(*h_, t.id, kOpen + 2);
    if (now.state == TicketState::waiting) {
      EXPECT_EQ(now.position, now.place);
    }
  }
}

// The ends of a skipper: abandoned when unseen, closed with the queue; the skip counter is the
// queue's for its life (a reopen does not reuse orders).
TEST_P(StoreConformance, SkippersAreAbandonedAndClosedLikeAnyTicket) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 0), T0)).ok());  // max_active 0: nobody goes in
  const std::string code = mint(*h_, 1, 10, true).at(0).code;
  auto s1 = run(s().join("q", jr(code), T0));
  auto s2 = run(s().join("q", jr(code), T0));
  auto l1 = run(s().join("q", "", T0));
  ASSERT_TRUE(s1.ok() && s2.ok() && l1.ok());
  ASSERT_TRUE(run(s().touch("q", {s2->id, l1->id}, T0 + 20'000)).ok());
  ASSERT_TRUE(run(s().tick("q", T0 + 30'000)).ok());  // abandon_after_s 30
  auto ab = run(s().get_ticket("q", s1->id, false, T0 + 30'000));
  EXPECT_EQ(ab->reason, EndReason::abandoned);
  EXPECT_EQ(events_of(*h_, EventType::abandoned).at(0).order, rules::kSkipOrder + 1);
  EXPECT_EQ(pos(*h_, s2->id, T0 + 30'001), 1);
  EXPECT_EQ(pos(*h_, l1->id, T0 + 30'001), 2);
  EXPECT_EQ(run(s().get_queue("q"))->stats.abandoned_total, 1);
  ASSERT_TRUE(run(s().close_queue("q", T0 + 30'002)).ok());
  EXPECT_EQ(ticket(*h_, s2->id, T0 + 30'003).reason, EndReason::closed);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 0);
  ASSERT_TRUE(run(s().put_queue("q", {}, T0 + 30'004)).ok());
  auto s3 = run(s().join("q", jr(code), T0 + 30'005));
  ASSERT_TRUE(s3.ok());
  EXPECT_EQ(s3->order, rules::kSkipOrder + 3);
  EXPECT_EQ(s3->position, 1);
}

// A process's view of positions with skippers waiting: the snapshot (skip orders last) plus the
// later events, split on rules::is_skip, gives every store position.
TEST_P(StoreConformance, SnapshotPlusEventsGiveSkippersPositions) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 1), T0)).ok());
  const std::string code = mint(*h_, 1, 100, true).at(0).code;
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back(run(s().join("q", i % 3 == 1 ? jr(code) : jr(""), T0 + i))->id);
  auto snap = run(s().snapshot("q"));
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(std::is_sorted(snap->waiting_orders.begin(), snap->waiting_orders.end()));
  EXPECT_EQ(std::count_if(snap->waiting_orders.begin(), snap->waiting_orders.end(),
                          rules::is_skip),
            3);  // of 4 skippers, the first is active (a free slot at its join)
  // Changes: skippers and line tickets leave, a slot frees (the head skipper goes in), joins.
  ASSERT_TRUE(run(s().leave("q", ids[4], T0 + 20)).ok());
  ASSERT_TRUE(run(s().leave("q", ids[2], T0 + 21)).ok());
  ASSERT_TRUE(run(s().complete("q", ids[1], T0 + 22)).ok());
  ASSERT_TRUE(run(s().tick("q", T0 + 23)).ok());
  for (int i = 0; i < 4; ++i)
    ids.push_back(run(s().join("q", i % 2 ? jr(code) : jr(""), T0 + 30 + i))->id);
  std::set<uint64_t> line, skip;
  for (uint64_t o : snap->waiting_orders) (rules::is_skip(o) ? skip : line).insert(o);
  for (auto& e : h_->events("q")) {
    if (e.seq <= snap->info.seq) continue;
    auto& set = rules::is_skip(e.order) ? skip : line;
    if (e.type == EventType::joined) set.insert(e.order);
    if (e.type == EventType::admitted || e.type == EventType::left ||
        e.type == EventType::abandoned)
      set.erase(e.order);
  }
  int64_t waiting = 0;
  for (auto& id : ids) {
    Ticket t = ticket(*h_, id, T0 + 40);
    if (t.state != TicketState::waiting) continue;
    ++waiting;
    auto& set = t.skip ? skip : line;
    ASSERT_TRUE(set.contains(t.order)) << id;
    int64_t rank = std::distance(set.begin(), set.find(t.order)) + 1;
    EXPECT_EQ(t.position, t.skip ? rank : static_cast<int64_t>(skip.size()) + rank) << id;
  }
  EXPECT_EQ(static_cast<int64_t>(line.size() + skip.size()), waiting);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, waiting);
}

// Mode random draws among the line; skippers stay first come first served ahead of it.
TEST_P(StoreConformance, SkippersAreFirstComeFirstServedInModeRandom) {
  ConfigPatch p = cfg(100, 1);
  p.mode = Mode::random;
  ASSERT_TRUE(run(s().put_queue("q", p, T0)).ok());
  const std::string code = mint(*h_, 1, 10, true).at(0).code;
  auto first = run(s().join("q", "", T0));  // the one slot
  ASSERT_EQ(first->state, TicketState::active);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(run(s().join("q", "", T0 + 1)).ok());
  std::vector<std::string> sk;
  for (int i = 0; i < 3; ++i) sk.push_back(run(s().join("q", jr(code), T0 + 2 + i))->id);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pos(*h_, sk[i], T0 + 5), i + 1);
  Millis now = T0 + 10;
  for (int i = 0; i < 3; ++i) {
    const std::string& active = i == 0 ? first->id : sk[i - 1];
    ASSERT_TRUE(run(s().complete("q", active, now++)).ok());
    ASSERT_TRUE(run(s().tick("q", now++)).ok());
    EXPECT_EQ(ticket(*h_, sk[i], now).state, TicketState::active) << i;
    EXPECT_EQ(run(s().get_queue("q"))->stats.active, 1);
  }
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 5);
}

// Closing during the pre-queue ends its skippers with its entrants; a dedupe key finds a live
// skipper's ticket like any other.
TEST_P(StoreConformance, ClosingThePrequeueEndsItsSkippers) {
  ASSERT_TRUE(run(s().put_queue("q", onsale(0, 10), T0)).ok());
  const std::string code = mint(*h_, 1, 10, true).at(0).code;
  auto ts = enter(*h_, 2, kPre);
  auto sk = run(s().join("q", jr(code, {}, "u:vip"), kPre + 10));
  ASSERT_TRUE(sk.ok()) << sk.error().message;
  auto again = run(s().join("q", jr("", {}, "u:vip"), kPre + 11));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, sk->id);
  EXPECT_TRUE(again->skip);
  EXPECT_EQ(again->position, 1);
  EXPECT_EQ(invite(*h_, code).used, 1);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 1);  // (entrants wait in the pre-queue)
  ASSERT_TRUE(run(s().close_queue("q", kPre + 12)).ok());
  auto t = ticket(*h_, sk->id, kPre + 13);
  EXPECT_EQ(t.state, TicketState::ended);
  EXPECT_EQ(t.reason, EndReason::closed);
  for (auto& e : ts) EXPECT_EQ(ticket(*h_, e.id, kPre + 13).reason, EndReason::closed);
  EXPECT_EQ(run(s().get_queue("q"))->stats.waiting, 0);
  EXPECT_TRUE(run(s().snapshot("q"))->waiting_orders.empty());
}

// joined_total (the dashboard's joins/s) counts every ticket made: line, skip and pre-queue
// joins alike; never a dedupe reply (the same ticket again) nor a refused join. It is the
// store's, so every process reads the same count, and it never goes down while the queue lives
// (leaving, admission, the draw and closing change nothing of it).
TEST_P(StoreConformance, JoinedTotalCountsEveryNewTicket) {
  ASSERT_TRUE(run(s().put_queue("q", cfg(0, 10), T0)).ok());
  EXPECT_EQ(run(s().get_queue("q"))->stats.joined_total, 0);
  const std::string skip = mint(*h_, 1, 10, true).at(0).code;
  auto a = run(s().join("q", "u:ann", T0 + 1));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(run(s().join("q", "", T0 + 2)).ok());
  // The same key again: the same ticket, not a new join.
  auto again = run(s().join("q", "u:ann", T0 + 3));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(run(s().get_queue("q"))->stats.joined_total, 2);
  // A skip-the-line join is a new ticket.
  auto sk = run(s().join("q", jr(skip), T0 + 4));
  ASSERT_TRUE(sk.ok());
  EXPECT_TRUE(sk->skip);
  // Refused joins make nothing.
  EXPECT_EQ(refusal(run(s().join("q", jr("0000000000000000"), T0 + 5))), Errc::invite_invalid);
  EXPECT_EQ(run(s().get_queue("q"))->stats.joined_total, 3);
  // Leaving and admission change nothing of it.
  ASSERT_TRUE(run(s().leave("q", a->id, T0 + 6)).ok());
  ASSERT_TRUE(run(s().put_queue("q", cfg(100, 10), T0 + 7)).ok());
  ASSERT_TRUE(run(s().tick("q", T0 + 2000)).ok());  // (tokens for the line's one)
  auto info = run(s().get_queue("q"));
  EXPECT_EQ(info->stats.joined_total, 3);
  EXPECT_EQ(info->stats.active, 2);
  EXPECT_EQ(info->stats.joined_total, static_cast<int64_t>(joins_seen(*h_)));
  // A closed queue refuses joins and keeps its count.
  ASSERT_TRUE(run(s().close_queue("q", T0 + 2001)).ok());
  EXPECT_EQ(run(s().join("q", "", T0 + 2002)).error().code, Errc::queue_closed);
  EXPECT_EQ(run(s().get_queue("q"))->stats.joined_total, 3);

  // The pre-queue: a refused early join is no join; entrants are.
  ASSERT_TRUE(run(s().put_queue("p", onsale(), T0)).ok());
  EXPECT_EQ(refusal(run(s().join("p", "u:early", kPre - 1))), Errc::not_open_yet);
  auto ts = enter(*h_, 3, kPre, "p");
  ASSERT_EQ(ts.size(), 3u);
  auto ent = run(s().join("p", "u:bea", kPre + 5));
  ASSERT_TRUE(ent.ok());
  EXPECT_FALSE(run(s().join("p", "u:bea", kPre + 6))->created);
  EXPECT_EQ(run(s().get_queue("p"))->stats.joined_total, 4);
  // The draw moves entrants into the line: no new tickets.
  ASSERT_TRUE(run(s().tick("p", kOpen)).ok());
  ASSERT_EQ(run(s().get_queue("p"))->draw.state, DrawState::drawn);
  ASSERT_TRUE(run(s().join("p", "", kOpen + 1)).ok());
  auto p = run(s().get_queue("p"));
  EXPECT_EQ(p->stats.joined_total, 5);
  EXPECT_EQ(p->stats.joined_total, static_cast<int64_t>(joins_seen(*h_, "p")));
  // list_queues shows the same counts as get_queue.
  auto all = run(s().list_queues());
  ASSERT_TRUE(all.ok());
  std::map<std::string, int64_t> seen;
  for (auto& qi : *all) seen[qi.name] = qi.stats.joined_total;
  EXPECT_EQ(seen, (std::map<std::string, int64_t>{{"p", 5}, {"q", 3}}));
}

}  // namespace
}  // namespace anteroom::conformance
