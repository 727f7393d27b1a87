// Step 2: several anteroom processes share one line in one redis-server (--redis, no Kafka: each
// process tails the queues' outbox streams). What visitors and operators see must not depend on
// which process they reach: the same positions, one global admission rate, nobody admitted
// twice, and nothing acknowledged lost when Redis is killed and restarted with its AOF.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/distributed.hpp"
#include "support/jwt.hpp"
#include "support/redis_conn.hpp"
#include "support/redis_server.hpp"
#include "support/sse_fleet.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class MultiProcessRedis : public ::testing::Test {
 protected:
  // Starts one anteroom per entry of `extra`, all on redis_ (node ids a, b, c, ...).
  void StartNodes(std::vector<std::vector<std::string>> extra) {
    for (std::size_t i = 0; i < extra.size(); ++i) {
      std::vector<std::string> args{"--redis",
                                    redis_->url(),
                                    "--node-id",
                                    std::string(1, static_cast<char>('a' + i)),
                                    "--max-conns-per-ip",
                                    "0"};
      args.insert(args.end(), extra[i].begin(), extra[i].end());
      nodes_.push_back(std::make_unique<AnteroomProcess>(args));
    }
  }
  void StartNodes(int n) { StartNodes(std::vector<std::vector<std::string>>(n)); }

  void TearDown() override {
    std::vector<AnteroomProcess*> all;
    for (auto& n : nodes_) all.push_back(n.get());
    StopAndCheck(all);
  }

  // Joins `per_node` tickets through each node at once (one thread per node). Returns, per node,
  // its tickets in the order that node's joins were acknowledged.
  std::vector<std::vector<std::string>> JoinEverywhere(const std::string& queue, int per_node) {
    std::vector<std::vector<std::string>> tickets(nodes_.size());
    std::vector<std::thread> threads;
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      threads.emplace_back([&, n] {
        for (int i = 0; i < per_node; ++i) {
          HttpResponse r = nodes_[n]->Join(queue);
          if (r.status != 201) {
            ADD_FAILURE() << "join via node " << n << ": " << r;
            return;
          }
          tickets[n].push_back(Str(r.Json(), "ticket"));
        }
      });
    }
    for (auto& t : threads) t.join();
    return tickets;
  }

  std::unique_ptr<RedisServer> redis_ = std::make_unique<RedisServer>();
  std::vector<std::unique_ptr<AnteroomProcess>> nodes_;
};

// Joins spread over three processes: every process reports the same position for every ticket,
// the positions are exactly 1..n, each process's own joins keep their order, and a stream opened
// on another process starts at that same position.
TEST_F(MultiProcessRedis, EveryProcessShowsTheSamePositionsOneToN) {
  StartNodes(3);
  nodes_[0]->MustPutQueue("line", {{"max_active", 0}, {"abandon_after_s", 3600}});
  constexpr int kPerNode = 100;
  auto tickets = JoinEverywhere("line", kPerNode);
  ASSERT_FALSE(HasFailure());

  std::map<std::string, long long> position;  // as node 0 says
  std::vector<long long> all;
  for (std::size_t n = 0; n < tickets.size(); ++n) {
    long long previous = 0;
    for (const std::string& t : tickets[n]) {
      std::optional<long long> first;
      for (std::size_t ask = 0; ask < nodes_.size(); ++ask) {
        HttpResponse r = nodes_[ask]->GetTicket("line", t);
        ASSERT_EQ(r.status, 200) << r;
        json::value v = r.Json();
        ASSERT_EQ(Str(v, "status"), "waiting") << r;
        auto p = Int(v, "position");
        ASSERT_TRUE(p) << r;
        if (!first) first = p;
        EXPECT_EQ(*p, *first) << "ticket " << t << " joined via node " << n << ": node " << ask
                              << " says " << *p << ", node 0 says " << *first;
      }
      EXPECT_GT(*first, previous) << "joins acknowledged in order by node " << n
                                  << " must keep their order";
      previous = *first;
      position[t] = *first;
      all.push_back(*first);
    }
  }
  std::sort(all.begin(), all.end());
  std::vector<long long> expected(all.size());
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<long long>(i) + 1;
  EXPECT_EQ(all, expected) << "positions must be exactly 1.." << expected.size();

  // Streams on a process other than the one that took the join start at the same position.
  SseFleet fleet;
  std::vector<std::pair<SseFleet::Id, std::string>> opened;
  for (std::size_t n = 0; n < tickets.size(); ++n)
    for (std::size_t i = 0; i < tickets[n].size(); i += 10)
      opened.emplace_back(
          fleet.Open(nodes_[(n + 1) % nodes_.size()]->port(), "line", tickets[n][i]),
          tickets[n][i]);
  ASSERT_TRUE(fleet.WaitUntil(
      [&](const auto& views) {
        for (auto& [id, t] : opened)
          if (!views[id].first && !views[id].closed) return false;
        return true;
      },
      DeadlineIn(kPatience)));
  for (auto& [id, t] : opened) {
    StreamView v = fleet.Get(id);
    ASSERT_EQ(v.status, 200) << v.error_body << v.failure;
    ASSERT_TRUE(v.first) << "no initial state on the stream of " << t;
    EXPECT_EQ(v.first->event, "position") << v.first->data;
    EXPECT_EQ(v.position, position[t]) << "stream of " << t << ": " << v.first->data;
  }
}

// Redis only: each process computes the positions it pushes to its own streams from its own
// index of the line, fed by the outbox events (a GET reads Redis instead, so it cannot tell).
// Streams for every ticket are spread over all three processes; after a mix of leaves,
// admissions, completions and more joins, made through different processes, every stream on
// every process must come to show exactly what Redis holds: the position in the waiting line,
// or the admission, or the end.
TEST_F(MultiProcessRedis, EachProcessPushesTheTruePositionsFromItsOwnIndex) {
  StartNodes(3);
  nodes_[0]->MustPutQueue("mix",
                          {{"max_active", 0}, {"admit_per_s", 100}, {"abandon_after_s", 3600}});
  auto per_node = JoinEverywhere("mix", 30);
  ASSERT_FALSE(HasFailure());
  std::vector<std::string> tickets;  // in the order of the line
  for (std::size_t i = 0; i < 30; ++i)
    for (auto& list : per_node) tickets.push_back(list[i]);
  {
    RedisConn redis(redis_->port());
    auto line = WaitingLine(redis, "mix");
    std::sort(tickets.begin(), tickets.end(),
              [&](const std::string& x, const std::string& y) { return line[x] < line[y]; });
  }

  SseFleet fleet;
  std::vector<std::pair<SseFleet::Id, std::string>> streams;
  auto open = [&](const std::string& t) {
    std::size_t node = streams.size() % nodes_.size();
    streams.emplace_back(fleet.Open(nodes_[node]->port(), "mix", t), t);
  };
  for (const std::string& t : tickets) open(t);
  ASSERT_TRUE(fleet.WaitUntil(
      [&](const auto& views) {
        for (auto& [id, t] : streams)
          if (!views[id].first) return false;
        return true;
      },
      DeadlineIn(kPatience)));

  auto node = [&](std::size_t i) -> AnteroomProcess& { return *nodes_[i % nodes_.size()]; };
  // Leaves across the line (the head, the middle, the tail), each through another process.
  std::set<std::string> gone;
  for (std::size_t i : {0, 7, 8, 20, 41, 42, 63, 89}) {
    ASSERT_EQ(node(i).Leave("mix", tickets[i]).status, 200);
    gone.insert(tickets[i]);
  }
  // Admissions from the head: 6 places, opened through process B, admitted by any tick.
  node(1).MustPutQueue("mix", {{"max_active", 6}});
  ASSERT_TRUE(PollUntil([&] { return IntAt(node(2).MustStats("mix"), {"active"}) == 6; },
                        DeadlineIn(kPatience)));
  // More joins at the back, with streams of their own; more leaves behind the admitted.
  for (int i = 0; i < 12; ++i) {
    std::string t = node(i).MustJoin("mix");
    ASSERT_FALSE(t.empty());
    tickets.push_back(t);
    open(t);
  }
  for (std::size_t i : {15, 30, 55, 95}) {
    ASSERT_EQ(node(i + 1).Leave("mix", tickets[i]).status, 200);
    gone.insert(tickets[i]);
  }
  // Two sessions completed through process C: two more are admitted.
  std::vector<std::string> active;
  for (const std::string& t : tickets) {
    HttpResponse r = node(0).GetTicket("mix", t);
    if (Str(r.Json(), "status") == "active") active.push_back(t);
  }
  ASSERT_EQ(active.size(), 6u);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(node(2).Complete("mix", active[i]).status, 200);
  ASSERT_TRUE(PollUntil(
      [&] {
        json::value s = node(0).MustStats("mix");
        return IntAt(s, {"active"}) == 6 && IntAt(s, {"completed_total"}) == 2;
      },
      DeadlineIn(kPatience)));
  const std::set<std::string> completed{active[0], active[1]};

  // Nothing moves any more (all places taken, nobody abandoned): compare with the truth.
  RedisConn redis(redis_->port());
  const auto truth = WaitingLine(redis, "mix");
  ASSERT_EQ(truth.size(), tickets.size() - gone.size() - completed.size() - 6);
  auto wrong = [&](const StreamView& v, const std::string& t) -> std::string {
    if (auto it = truth.find(t); it != truth.end()) {
      if (v.State() == "waiting" && v.position == it->second) return "";
      return "shows " + v.State() + " " + std::to_string(v.position.value_or(-1)) +
             ", truth: waiting at " + std::to_string(it->second);
    }
    if (gone.count(t)) return v.State() == "ended" ? "" : "shows " + v.State() + ", truth: left";
    if (completed.count(t))
      return v.State() == "ended" ? "" : "shows " + v.State() + ", truth: completed";
    return v.State() == "active" ? "" : "shows " + v.State() + ", truth: active";
  };
  bool all_true = fleet.WaitUntil(
      [&](const auto& views) {
        for (auto& [id, t] : streams)
          if (!wrong(views[id], t).empty()) return false;
        return true;
      },
      DeadlineIn(kPatience));
  if (!all_true) {
    for (std::size_t i = 0; i < streams.size(); ++i) {
      StreamView v = fleet.Get(streams[i].first);
      std::string why = wrong(v, streams[i].second);
      if (!why.empty())
        ADD_FAILURE() << "stream of " << streams[i].second << " on node " << i % nodes_.size()
                      << ": " << why << " (last event: " << (v.last ? v.last->data : "") << ")";
    }
  }
  // Every process served its share of the streams.
  for (auto& n : nodes_)
    EXPECT_GE(MetricValue(*n, "anteroom_sse_streams").value_or(0), 1) << "port " << n->port();
}

// Only process B can admit: A and C run with --tick-ms 10000, and a ticker's first tick comes one
// interval after the process started, so neither ticks before `launch + 10 s` (launch is taken
// before A and C are started). B (--tick-ms 20) also takes the operator's PUT that opens the
// gate; put_queue never admits, so the admission is B's tick. The visitor joined through C and
// holds its stream on A; the `admitted` event must arrive there, before A or C ever ticked.
TEST_F(MultiProcessRedis, StreamOnOneProcessSeesAdmissionMadeByAnother) {
  const auto launch = Clock::now();
  StartNodes({{"--tick-ms", "10000"}, {"--tick-ms", "20"}, {"--tick-ms", "10000"}});
  AnteroomProcess& a = *nodes_[0];
  AnteroomProcess& b = *nodes_[1];
  AnteroomProcess& c = *nodes_[2];
  b.MustPutQueue(
      "shop", {{"max_active", 0}, {"admit_per_s", 10}, {"target_url", "https://shop.example/buy"}});
  std::string ticket = c.MustJoin("shop");
  ASSERT_FALSE(ticket.empty());
  auto stream = a.Events("shop", ticket);
  ASSERT_EQ(stream->status(), 200) << stream->error_body();
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();

  b.MustPutQueue("shop", {{"max_active", 1}});
  auto admitted = stream->WaitFor("admitted", launch + 9500ms);
  ASSERT_TRUE(admitted) << "no admission on A's stream before A or C could tick; received: "
                        << stream->raw();
  ASSERT_LT(admitted->received, launch + 10s) << "test too slow to tell who admitted";
  std::string token = Str(admitted->Json(), "token");
  auto claims = DecodeJwt(token);
  ASSERT_TRUE(claims) << admitted->Describe();
  EXPECT_EQ(Str(claims->claims, "ticket"), ticket);
  EXPECT_TRUE(VerifyJwtSignature(token, kTokenSecret));
  HttpResponse verified = c.Verify(token);
  EXPECT_EQ(verified.status, 204) << verified;
  HttpResponse status = a.GetTicket("shop", ticket);
  EXPECT_EQ(Str(status.Json(), "status"), "active") << status;
}

// admit_per_s = R with all three processes ticking (every 20 ms each): the count admitted over
// 10 s is R * elapsed within 5%. The queue is unpaused with a full line and measured only after
// 2R admissions, so the bucket's initial burst (one second's worth) is spent; the line never runs
// dry during the window.
TEST_F(MultiProcessRedis, ThreeTickingProcessesAdmitAtTheConfiguredRateTogether) {
  StartNodes(3);
  constexpr double kRate = 100;
  nodes_[0]->MustPutQueue("sale", {{"admit_per_s", kRate},
                                   {"max_active", 1000000},
                                   {"session_ttl_s", 3600},
                                   {"abandon_after_s", 3600},
                                   {"paused", true}});
  JoinEverywhere("sale", 550);  // 1650 waiting: 2R warm-up + 10R measured + margin
  ASSERT_FALSE(HasFailure());
  nodes_[1]->MustPutQueue("sale", {{"paused", false}});

  struct Sample {
    Clock::time_point at;
    long long admitted;
    long long waiting;
  };
  auto sample = [&](const AnteroomProcess& node) -> Sample {
    auto before = Clock::now();
    json::value stats = node.MustStats("sale");
    auto after = Clock::now();
    return {before + (after - before) / 2, IntAt(stats, {"admitted_total"}).value_or(-1),
            IntAt(stats, {"waiting"}).value_or(-1)};
  };
  ASSERT_TRUE(
      PollUntil([&] { return sample(*nodes_[2]).admitted >= 2 * kRate; }, DeadlineIn(kPatience)));
  Sample s1 = sample(*nodes_[0]);
  std::this_thread::sleep_for(10s);  // the measurement window itself, not a wait for a condition
  Sample s2 = sample(*nodes_[1]);
  double elapsed = Seconds(s2.at - s1.at);
  double expected = kRate * elapsed;
  double admitted = static_cast<double>(s2.admitted - s1.admitted);
  std::cout << "[ measured ] admitted " << admitted << " in " << elapsed << " s at R=" << kRate
            << " by 3 processes: expected " << expected << ", error "
            << 100.0 * (admitted - expected) / expected << "%\n";
  RecordProperty("admission_rate_error_percent",
                 std::to_string(100.0 * (admitted - expected) / expected));
  EXPECT_GT(s2.waiting, 0) << "the line ran dry: the rate was not the limit";
  EXPECT_NEAR(admitted, expected, 0.05 * expected);
}

// Fast admission (R=400, three processes ticking every 5 ms) while joins pour in through all
// three: the outbox (every committed event, in seq order) holds exactly one `admitted` per
// ticket, for every ticket.
TEST_F(MultiProcessRedis, NoTicketIsAdmittedTwice) {
  StartNodes({{"--tick-ms", "5"}, {"--tick-ms", "5"}, {"--tick-ms", "5"}});
  nodes_[0]->MustPutQueue("rush", {{"admit_per_s", 400},
                                   {"max_active", 1000000},
                                   {"session_ttl_s", 3600},
                                   {"abandon_after_s", 3600}});
  auto tickets = JoinEverywhere("rush", 400);
  ASSERT_FALSE(HasFailure());
  std::set<std::string> joined;
  for (auto& per_node : tickets) joined.insert(per_node.begin(), per_node.end());
  ASSERT_EQ(joined.size(), 1200u);
  ASSERT_TRUE(PollUntil(
      [&] {
        json::value s = nodes_[0]->MustStats("rush");
        return IntAt(s, {"waiting"}) == 0 && IntAt(s, {"admitted_total"}) == 1200;
      },
      DeadlineIn(20s)))
      << json::serialize(nodes_[0]->MustStats("rush"));

  RedisConn redis(redis_->port());
  auto outbox = ReadOutbox(redis, "rush");
  ASSERT_FALSE(outbox.empty());
  // The outbox must be whole (Redis-only mode trims it to its newest 10,000 entries).
  ASSERT_EQ(outbox.front().seq, 1) << "the outbox was trimmed: the check would be incomplete";
  std::map<std::string, int> admissions;
  for (std::size_t i = 0; i < outbox.size(); ++i) {
    ASSERT_EQ(outbox[i].seq, static_cast<long long>(i) + 1) << "outbox seqs must be 1..n";
    if (outbox[i].type == "admitted") ++admissions[outbox[i].ticket];
  }
  for (const std::string& t : joined)
    EXPECT_EQ(admissions[t], 1) << "ticket " << t << " admitted " << admissions[t] << " times";
  EXPECT_EQ(admissions.size(), joined.size());
}

// kill -9 of redis-server (AOF on, `appendfsync always`, as docs/distributed.md advises when no
// acknowledged write may be lost) while joins pour in, then a restart on the same port and
// directory:
// - during the outage joins get 503 with Retry-After, /readyz is 503, an open stream stays open;
// - afterwards the processes recover by themselves (joins 201, /readyz 200, events flow);
// - every join acknowledged at any time — right up to the kill, and after the restart — is
//   still there: with `always` Redis writes and fsyncs the AOF before it answers, so no
//   acknowledged write can be lost, not even in the last second before the kill (the window
//   `appendfsync everysec` leaves; see docs/distributed.md).
TEST_F(MultiProcessRedis, RedisKilledAndRestartedWithAofLosesNoAcknowledgedJoin) {
  RedisServer::Options ro;
  ro.appendonly = true;
  ro.extra_args = {"--appendfsync", "always"};
  redis_ = std::make_unique<RedisServer>(ro);
  StartNodes({{"--heartbeat-s", "1"}, {}, {}});
  nodes_[0]->MustPutQueue("line", {{"max_active", 0}, {"abandon_after_s", 3600}});
  std::string head = nodes_[1]->MustJoin("line");
  std::string watched = nodes_[1]->MustJoin("line");
  SseFleet fleet;
  SseFleet::Id stream = fleet.Open(nodes_[0]->port(), "line", watched);
  ASSERT_TRUE(fleet.WaitUntil([&](const auto& v) { return v[stream].position == 2; },
                              DeadlineIn(kPatience)));

  struct Ack {
    std::string ticket;
    Clock::time_point at;
  };
  struct Refusal {
    Clock::time_point at;
    int status;
    std::string retry_after, error, what;
  };
  std::mutex mu;
  std::vector<Ack> acks;
  std::vector<Refusal> refusals;
  std::atomic<bool> stop{false};
  std::thread loader([&] {
    for (std::size_t i = 0; !stop; ++i) {
      try {
        HttpResponse r = nodes_[i % nodes_.size()]->Join("line");
        auto at = Clock::now();
        std::lock_guard lock(mu);
        if (r.status == 201)
          acks.push_back({Str(r.Json(), "ticket"), at});
        else
          refusals.push_back({at, r.status, r.Header("Retry-After"), r.ErrorCode(), r.Describe()});
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        refusals.push_back({Clock::now(), 0, "", "", e.what()});
      }
      std::this_thread::sleep_for(2ms);  // pacing of the load (< 500 joins/s), not a wait
    }
  });
  auto count_acks = [&] {
    std::lock_guard lock(mu);
    return acks.size();
  };
  auto started = Clock::now();
  ASSERT_TRUE(PollUntil([&] { return count_acks() >= 500 && Clock::now() - started > 2500ms; },
                        DeadlineIn(20s)));

  const auto killed_at = Clock::now();
  redis_->kill9();
  // Outage: joins refused with 503 + Retry-After, /readyz 503 everywhere, the stream stays open.
  EXPECT_TRUE(PollUntil(
      [&] {
        std::lock_guard lock(mu);
        return std::count_if(refusals.begin(), refusals.end(),
                             [&](auto& r) { return r.at > killed_at && r.status == 503; }) >= 5;
      },
      DeadlineIn(kPatience)));
  for (auto& node : nodes_) {
    EXPECT_TRUE(PollUntil([&] { return node->Request("GET", "/readyz").status == 503; },
                          DeadlineIn(kPatience)))
        << "/readyz on port " << node->port() << " while Redis is down";
  }
  EXPECT_FALSE(fleet.Get(stream).closed) << "the stream closed while Redis was down";

  redis_->restart();  // same port and dir; returns once it answers PING (AOF loaded)
  const auto restarted_at = Clock::now();
  for (auto& node : nodes_) {
    EXPECT_TRUE(
        PollUntil([&] { return node->Request("GET", "/readyz").status == 200; }, DeadlineIn(20s)))
        << "/readyz on port " << node->port() << " after Redis came back";
  }
  const auto ready_again_at = Clock::now();
  EXPECT_TRUE(PollUntil(
      [&] {
        std::lock_guard lock(mu);
        return std::count_if(acks.begin(), acks.end(),
                             [&](auto& a) { return a.at > restarted_at; }) >= 100;
      },
      DeadlineIn(20s)))
      << "joins did not succeed again after Redis came back";
  stop = true;
  loader.join();

  // Every refusal was the documented one, and only while Redis was away.
  int outage_refusals = 0;
  for (const Refusal& r : refusals) {
    EXPECT_EQ(r.status, 503) << r.what;
    EXPECT_FALSE(r.retry_after.empty()) << "503 without Retry-After: " << r.what;
    EXPECT_EQ(r.error, "unavailable") << r.what;
    if (r.at > killed_at) ++outage_refusals;
  }
  EXPECT_GT(outage_refusals, 0);

  // No acknowledged join is lost: neither those long before the kill, nor those in its last
  // second, nor those after the restart.
  const auto window_start = killed_at - 1s;
  std::vector<const Ack*> old_acks, window_acks, later_acks;
  for (const Ack& a : acks) {
    if (a.at <= window_start)
      old_acks.push_back(&a);
    else if (a.at <= killed_at)
      window_acks.push_back(&a);
    else
      later_acks.push_back(&a);
  }
  ASSERT_GT(old_acks.size(), 100u);
  ASSERT_GT(window_acks.size(), 10u) << "too few joins acknowledged in the last second before "
                                        "the kill to show that none of them is lost";
  std::atomic<int> lost_old{0}, lost_window{0}, lost_later{0};
  auto check = [&](const std::vector<const Ack*>& list, std::atomic<int>& lost) {
    std::vector<std::thread> threads;
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      threads.emplace_back([&, n] {
        for (std::size_t i = n; i < list.size(); i += nodes_.size()) {
          HttpResponse r = nodes_[n]->GetTicket("line", list[i]->ticket);
          if (r.status == 404) {
            ++lost;
            ADD_FAILURE() << "acknowledged join lost: " << list[i]->ticket;
          } else if (r.status != 200) {
            ADD_FAILURE() << "GET ticket: " << r;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  check(old_acks, lost_old);
  check(window_acks, lost_window);
  check(later_acks, lost_later);
  std::cout << "[ measured ] acknowledged joins: " << acks.size() << " (" << old_acks.size()
            << " more than 1 s before the kill: " << lost_old << " lost; " << window_acks.size()
            << " in its last second: " << lost_window << " lost; " << later_acks.size()
            << " after it: " << lost_later
            << " lost); 503 refusals during the outage: " << outage_refusals << "; outage "
            << Seconds(restarted_at - killed_at) << " s; /readyz 200 on all three "
            << Seconds(ready_again_at - restarted_at) << " s after the restart\n";

  // The stream survived and still carries live events: heartbeats continue, and the visitor
  // ahead leaving (through another process) moves it to position 1.
  int comments = fleet.Get(stream).comments;
  EXPECT_TRUE(fleet.WaitUntil([&](const auto& v) { return v[stream].comments > comments; },
                              DeadlineIn(kPatience)));
  HttpResponse left = nodes_[2]->Leave("line", head);
  ASSERT_EQ(left.status, 200) << left;
  EXPECT_TRUE(fleet.WaitUntil([&](const auto& v) { return v[stream].position == 1; },
                              DeadlineIn(kPatience)))
      << "last event on the stream: "
      << (fleet.Get(stream).last ? fleet.Get(stream).last->data : "");
  StreamView v = fleet.Get(stream);
  EXPECT_FALSE(v.closed) << v.failure;
}

}  // namespace
}  // namespace anteroom::testing
