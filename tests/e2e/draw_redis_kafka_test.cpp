// Step 3 (issue 13): the on-sale draw, checked from outside as a visitor, an auditor and a
// statistician would. Three anteroom processes share one redis-server and one Kafka (the
// project's kafka-mock). A queue opens its pre-queue; 20,000 visitors join it through the three
// processes at once, 3,000 of them holding an event stream; then the operator brings `opens_at`
// forward and the draw happens, once, whatever the number of processes. The test then checks:
// - exactly one `drawn` event; the published /draw pages hold the 20,000 entry ids, each test
//   ticket's entry id at exactly one place, in exactly the order the test recomputes itself
//   from the published seed (OpenSSL, not the server's code; docs/draw.md), and the seed is the
//   one committed to before the first join;
// - every stream was told its place, equal to the published one; later joins are behind every
//   entrant; admissions follow the draw's places;
// - the order does not depend on arrival (Spearman's rho, decile chi-square: tests/support/
//   stats.hpp), arrival being the order of the `entered` events in Kafka;
// - tools/verify-draw accepts the draw, and catches a flipped seed digit and two swapped places.
// Runtime measured on the 2-core machine under load, with the step-3 slices merged: 22-31 s
// (20,000 joins 5-6 s, the consumer group settling ~4 s, the checks 5-7 s).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/distributed.hpp"
#include "support/draw_check.hpp"
#include "support/kafka_mock.hpp"
#include "support/kafka_reader.hpp"
#include "support/redis_conn.hpp"
#include "support/redis_server.hpp"
#include "support/sse_fleet.hpp"
#include "support/stats.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr const char* kTopic = "queueing-system";
constexpr const char* kQueue = "onsale";
constexpr int kEntrants = 20000;
constexpr int kJoinThreads = 16;
constexpr int kStreamsPerNode = 1000;
constexpr int kLateJoins = 50;
constexpr int kAdmitted = 2000;  // admitted at the end, to check admissions follow the places
// The statistics' thresholds (the issue's): |rho| < 0.03 is > 4 standard deviations under a
// fair draw (SD = 1/sqrt(n-1) = 0.0071), a false failure ~2e-5; p > 0.001 fails a fair draw
// 0.1% of the time by construction. The deterministic checks carry correctness; these catch a
// draw that is a function of the seed but leaks arrival order (tests/unit/stats_test.cpp shows
// they reject such draws).
constexpr double kMaxRho = 0.03;
constexpr double kMinP = 0.001;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
std::string NodeId(int i) { return "node-" + std::to_string(i); }
std::string Key(const char* what) { return std::string("aq:{") + kQueue + "}:" + what; }
long long UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

struct Entrant {
  std::string ticket, entry_id;
  int via = -1;             // the process it joined through
  bool streamed = false;    // holds an event stream:
  SseFleet::Id stream = 0;  // this one,
  int stream_node = -1;     // on this process
};

// One event of the topic, as anteroom's codec writes it (src/core/event_codec.hpp).
struct KafkaEvent {
  long long seq = 0;
  std::string type, ticket;
  long long order = 0, exp = 0;
};

// What `tools/verify-draw` printed and how it ended.
struct ToolRun {
  int code = -1;
  std::string out;
};

class DrawRedisKafka : public ::testing::Test {
 protected:
  void SetUp() override {
    kafka_ = std::make_unique<KafkaMock>();
    for (int i = 0; i < kNodes; ++i) {
      nodes_.push_back(std::make_unique<AnteroomProcess>(
          std::vector<std::string>{"--redis", redis_.url(), "--kafka", kafka_->brokers(),
                                   "--node-id", NodeId(i), "--max-conns-per-ip", "0"}));
    }
    // The consumer group must have settled first: events reach the hubs through it.
    ASSERT_TRUE(PollUntil([&] { return GroupSettled(); }, DeadlineIn(60s), 100ms));
  }

  void TearDown() override {
    fleet_.reset();
    std::vector<AnteroomProcess*> all;
    for (auto& n : nodes_) all.push_back(n.get());
    StopAndCheck(all);
  }

  bool GroupSettled() {
    double sum = 0;
    for (auto& n : nodes_) {
      auto assigned = MetricValue(*n, "anteroom_consumer_assigned_partitions");
      if (!assigned || *assigned <= 0) return false;
      sum += *assigned;
    }
    return sum == kafka_->partitions();
  }

  RedisConn& redis() {
    if (!redis_conn_) redis_conn_ = std::make_unique<RedisConn>(redis_.port());
    return *redis_conn_;
  }

  // The "draw" object of GET /v1/queues/{q} on one process (null if absent).
  json::value Draw(int node) {
    json::value q = nodes_[node]->GetQueue(kQueue).Json();
    const json::value* d = Path(q, {"draw"});
    return d != nullptr ? *d : json::value();
  }

  // kEntrants joins: kJoinThreads threads, each with one kept-alive connection per process,
  // sending its joins to the processes in turn. Every join must enter the pre-queue.
  void JoinAll() {
    std::vector<std::vector<Entrant>> got(kJoinThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kJoinThreads; ++t) {
      threads.emplace_back([&, t] {
        try {
          std::vector<std::unique_ptr<HttpConnection>> conns;
          for (auto& n : nodes_) conns.push_back(std::make_unique<HttpConnection>(n->port()));
          const std::string target = std::string("/v1/queues/") + kQueue + "/tickets";
          for (int i = t; i < kEntrants; i += kJoinThreads) {
            const int via = i % kNodes;
            HttpResponse r = conns[via]->Request("POST", target);
            json::value v = r.Json();
            if (r.status != 201 || Str(v, "status") != "prequeue") {
              ADD_FAILURE() << "pre-queue join via " << NodeId(via) << ": " << r;
              return;
            }
            Entrant e{Str(v, "ticket"), Str(v, "entry_id"), via};
            if (e.entry_id != EntryId(e.ticket)) {
              ADD_FAILURE() << "join answered entry_id " << e.entry_id << " for a ticket whose "
                            << "entry id is " << EntryId(e.ticket) << ": " << r;
              return;
            }
            got[t].push_back(std::move(e));
          }
        } catch (const std::exception& ex) {
          ADD_FAILURE() << "join thread " << t << ": " << ex.what();
        }
      });
    }
    for (auto& th : threads) th.join();
    for (auto& g : got)
      for (auto& e : g) entrants_.push_back(std::move(e));
  }

  // Runs tools/verify-draw (python3, as a visitor would) with `args`.
  ToolRun VerifyDraw(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"python3", std::string(ANTEROOM_SOURCE_DIR) + "/tools/verify-draw/verify-draw"});
    Process::Options options;
    options.path = "/usr/bin/env";
    options.args = std::move(args);
    Process p(options);
    ToolRun run;
    auto status = p.WaitExit(DeadlineIn(60s));
    if (!status) {
      ADD_FAILURE() << "verify-draw did not finish in 60 s";
      return run;
    }
    run.code = status->exited ? status->code : -1;
    run.out = p.Stdout() + p.Stderr();
    return run;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = ::testing::TempDir() + "draw_redis_kafka_" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // Every event of the topic for this queue, once per seq, in seq order (the relay may repeat an
  // event; a repeat carries the same seq). Waits for the outbox to drain into Kafka first.
  std::vector<KafkaEvent> KafkaEvents() {
    EXPECT_TRUE(PollUntil(
        [&] {
          return redis().Int({"XLEN", Key("outbox")}) == 0;
        },
        DeadlineIn(60s), 50ms))
        << "the outbox did not drain into Kafka";
    std::map<long long, KafkaEvent> by_seq;
    for (const KafkaRecord& r : ReadTopic(kafka_->brokers(), kTopic)) {
      json::value v = json::parse(r.value);
      if (Str(v, "queue") != kQueue) continue;
      KafkaEvent e{Int(v, "seq").value_or(-1), Str(v, "type"), Str(v, "ticket"),
                   Int(v, "order").value_or(-1), Int(v, "exp").value_or(-1)};
      auto [it, added] = by_seq.emplace(e.seq, e);
      if (!added) {
        EXPECT_TRUE(it->second.type == e.type && it->second.ticket == e.ticket)
            << "seq " << e.seq << " repeated with another event: " << r.value;
      }
    }
    std::vector<KafkaEvent> out;
    for (auto& [seq, e] : by_seq) out.push_back(std::move(e));
    return out;
  }

  RedisServer redis_;
  std::unique_ptr<RedisConn> redis_conn_;
  std::unique_ptr<KafkaMock> kafka_;
  std::vector<std::unique_ptr<AnteroomProcess>> nodes_;
  std::unique_ptr<SseFleet> fleet_ = std::make_unique<SseFleet>();
  std::vector<Entrant> entrants_;
};

// The test's own implementation of the draw (support/draw_check, OpenSSL) agrees with the
// golden vectors that tools/verify-draw and the server's code are held to, so the e2e test
// below checks the server against the documented function.
TEST(DrawGoldenVectors, TheTestsOwnDrawMatchesThem) {
  std::ifstream in(std::string(ANTEROOM_SOURCE_DIR) + "/tools/verify-draw/vectors.json");
  ASSERT_TRUE(in) << "tools/verify-draw/vectors.json";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json::value v = json::parse(text);
  const std::string seed = FromHex(Str(v, "seed"));
  EXPECT_EQ(Commitment(seed), Str(v, "commitment"));
  std::vector<std::string> ids;
  for (const auto& t : v.at("tickets").as_array()) {
    EXPECT_EQ(EntryId(Str(t, "ticket")), Str(t, "entry_id"));
    EXPECT_EQ(ToHex(DrawKey(seed, Str(t, "entry_id"))), Str(t, "key"));
    ids.push_back(Str(t, "entry_id"));
  }
  std::vector<std::string> order;
  for (const auto& e : v.at("order").as_array()) order.emplace_back(e.as_string());
  EXPECT_EQ(DrawOrder(seed, ids), order);
}

TEST_F(DrawRedisKafka, TwentyThousandEntrantsAreDrawnOnceFairlyAndCheckably) {
  const auto started = Clock::now();
  // ---- the pre-queue opens now; the draw is an hour away (nobody is admitted meanwhile) ----
  const long long t0 = UnixNow();
  nodes_[0]->MustPutQueue(kQueue, {{"prequeue_at", t0},
                                   {"opens_at", t0 + 3600},
                                   {"admit_per_s", 0},
                                   {"max_active", 1000000},
                                   {"session_ttl_s", 3600},
                                   {"abandon_after_s", 3600}});
  ASSERT_FALSE(HasFailure());
  // The commitment is public from now on, the seed is not.
  json::value draw0 = Draw(1);
  const std::string commitment = Str(draw0, "commitment");
  EXPECT_EQ(Str(draw0, "state"), "prequeue") << draw0;
  ASSERT_TRUE(IsHex64(commitment)) << draw0;
  {
    HttpResponse r = nodes_[2]->Request("GET", std::string("/v1/queues/") + kQueue + "/draw");
    ASSERT_EQ(r.status, 200) << r;
    json::value page = r.Json();
    EXPECT_EQ(Str(page, "state"), "prequeue") << r;
    EXPECT_EQ(Str(page, "commitment"), commitment) << r;
    EXPECT_EQ(Str(page, "algorithm"), kDrawAlgorithm) << r;
    EXPECT_TRUE(Str(page, "seed").empty()) << "the seed must not be public before the draw: " << r;
  }

  // ---- 20,000 joins through the three processes ----
  JoinAll();
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(entrants_.size(), static_cast<std::size_t>(kEntrants));
  const auto joined = Clock::now();
  for (int n = 0; n < kNodes; ++n) {
    json::value d = Draw(n);
    EXPECT_EQ(Int(d, "entrants"), kEntrants) << NodeId(n) << ": " << d;
    EXPECT_EQ(Str(d, "commitment"), commitment) << NodeId(n) << ": " << d;
  }

  // ---- 3,000 of them hold an event stream, 1,000 on each process ----
  const int stride = kEntrants / (kStreamsPerNode * kNodes);
  std::vector<Entrant*> streamed;
  for (int i = 0; i < kStreamsPerNode * kNodes; ++i) {
    Entrant& e = entrants_[static_cast<std::size_t>(i) * stride];
    e.stream_node = i % kNodes;
    e.stream = fleet_->Open(nodes_[e.stream_node]->port(), kQueue, e.ticket);
    e.streamed = true;
    streamed.push_back(&e);
  }
  std::string why;
  ASSERT_TRUE(fleet_->WaitUntil(
      [&](const auto& views) {
        for (Entrant* e : streamed) {
          const StreamView& v = views[e->stream];
          if (!v.first) {
            if (v.closed) why = e->ticket + " closed: " + v.failure + v.error_body;
            return false;
          }
        }
        return true;
      },
      DeadlineIn(60s)))
      << "not every stream got its first frame " << why;
  for (Entrant* e : streamed) {
    StreamView v = fleet_->Get(e->stream);
    ASSERT_EQ(v.first->event, "prequeue") << v.first->data;
    json::value d = json::parse(v.first->data);
    EXPECT_EQ(Str(d, "entry_id"), e->entry_id) << v.first->data;
    EXPECT_EQ(Int(d, "opens_at"), t0 + 3600) << v.first->data;
  }
  ASSERT_FALSE(HasFailure());
  const auto streaming = Clock::now();

  // ---- the operator brings the opening forward (allowed during the pre-queue) ----
  const long long opens_at = UnixNow() + 2;
  nodes_[1]->MustPutQueue(kQueue, {{"opens_at", opens_at}});
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(PollUntil([&] { return Str(Draw(2), "state") == "drawn"; }, DeadlineIn(30s), 50ms))
      << Draw(2);
  const auto drawn = Clock::now();
  // Every stream is told its place.
  ASSERT_TRUE(fleet_->WaitUntil(
      [&](const auto& views) {
        for (Entrant* e : streamed) {
          if (!views[e->stream].first_of.count("drawn")) {
            why = e->ticket + " on " + NodeId(e->stream_node);
            return false;
          }
        }
        return true;
      },
      DeadlineIn(30s)))
      << "a stream was never told its place: " << why;
  const auto told = Clock::now();

  // ---- 50 joins after the draw: ordinary tickets, behind every entrant ----
  for (int i = 0; i < kLateJoins; ++i) {
    HttpResponse r = nodes_[i % kNodes]->Join(kQueue);
    ASSERT_EQ(r.status, 201) << r;
    json::value v = r.Json();
    EXPECT_EQ(Str(v, "status"), "waiting") << r;
    EXPECT_TRUE(Str(v, "entry_id").empty()) << "a post-open join is not an entrant: " << r;
    // Nobody admitted (admit_per_s 0), nobody gone (abandon_after_s 3600): the k-th late join
    // is exactly behind the 20,000 entrants and the late joins before it.
    EXPECT_EQ(Int(v, "position"), kEntrants + i + 1) << r;
  }

  // ---- the published draw ----
  PublishedDraw pub = DownloadDraw(nodes_[0]->http(), kQueue);
  ASSERT_FALSE(HasFailure());
  const json::value fields = pub.fields;
  EXPECT_EQ(Str(fields, "state"), "drawn") << fields;
  EXPECT_EQ(Str(fields, "algorithm"), kDrawAlgorithm) << fields;
  EXPECT_EQ(Int(fields, "entrants"), kEntrants) << fields;
  EXPECT_EQ(Int(fields, "opens_at"), opens_at) << fields;
  EXPECT_EQ(Str(fields, "commitment"), commitment) << "the commitment changed at the draw";
  const std::string seed_hex = Str(fields, "seed");
  ASSERT_TRUE(IsHex64(seed_hex)) << fields;
  const std::string seed = FromHex(seed_hex);
  EXPECT_EQ(Commitment(seed), commitment) << "the seed is not the one committed to";
  EXPECT_GE(pub.pages, 2) << "20,000 entries come in pages of at most 10,000";
  ASSERT_EQ(pub.entries.size(), static_cast<std::size_t>(kEntrants));
  // Every process publishes the same draw.
  for (int n = 1; n < kNodes; ++n) {
    PublishedDraw other = DownloadDraw(nodes_[n]->http(), kQueue);
    EXPECT_EQ(other.entries, pub.entries) << NodeId(n) << " publishes another order";
    EXPECT_EQ(Str(other.fields, "seed"), seed_hex) << NodeId(n);
  }
  std::map<std::string, long long> place;  // entry id → place
  for (std::size_t i = 0; i < pub.entries.size(); ++i) {
    EXPECT_TRUE(place.emplace(pub.entries[i], static_cast<long long>(i) + 1).second)
        << pub.entries[i] << " is published twice (places " << place[pub.entries[i]] << ", "
        << i + 1 << ")";
  }
  int missing = 0;
  for (const Entrant& e : entrants_)
    if (!place.count(e.entry_id) && ++missing <= 5) ADD_FAILURE() << e.entry_id << " not drawn";
  ASSERT_EQ(missing, 0) << "entrants missing from the draw";
  // The order is the documented function of the seed and the entry ids, recomputed here.
  const std::vector<std::string> recomputed = DrawOrder(seed, pub.entries);
  for (std::size_t i = 0, shown = 0; i < recomputed.size() && shown < 5; ++i) {
    if (recomputed[i] != pub.entries[i]) {
      ++shown;
      ADD_FAILURE() << "place " << i + 1 << " holds " << pub.entries[i] << ", the draw puts "
                    << recomputed[i] << " there";
    }
  }

  // ---- what each visitor was shown: their place, and the same place in their status ----
  for (Entrant* e : streamed) {
    StreamView v = fleet_->Get(e->stream);
    const SseFrame& f = v.first_of.at("drawn");
    json::value d = json::parse(f.data);
    const long long p = place[e->entry_id];
    EXPECT_EQ(Int(d, "place"), p) << e->ticket << ": " << f.data;
    EXPECT_EQ(Int(d, "entrants"), kEntrants) << f.data;
    // Nobody admitted or gone yet: one's position is one's place.
    EXPECT_EQ(Int(d, "position"), p) << e->ticket << ": " << f.data;
  }
  for (std::size_t i = 0; i < streamed.size(); i += 10) {
    const Entrant& e = *streamed[i];
    HttpResponse r = nodes_[(e.via + 1) % kNodes]->GetTicket(kQueue, e.ticket);
    ASSERT_EQ(r.status, 200) << r;
    json::value v = r.Json();
    EXPECT_EQ(Str(v, "status"), "waiting") << r;
    EXPECT_EQ(Str(v, "entry_id"), e.entry_id) << r;
    EXPECT_EQ(Int(v, "place"), place[e.entry_id]) << r;
    EXPECT_EQ(Int(v, "position"), place[e.entry_id]) << r;
  }

  // ---- Kafka: one draw; arrival order; fairness ----
  std::vector<KafkaEvent> events = KafkaEvents();
  std::vector<const KafkaEvent*> entered, draws;
  for (const KafkaEvent& e : events) {
    if (e.type == "entered") entered.push_back(&e);
    if (e.type == "drawn") draws.push_back(&e);
  }
  ASSERT_EQ(draws.size(), 1u) << "the draw must happen exactly once";
  EXPECT_EQ(draws[0]->exp, kEntrants) << "a drawn event's exp is the number of entrants";
  EXPECT_TRUE(draws[0]->ticket.empty());
  ASSERT_EQ(entered.size(), static_cast<std::size_t>(kEntrants));
  for (std::size_t i = 1; i < entered.size(); ++i) {
    EXPECT_GT(entered[i]->order, entered[i - 1]->order)
        << "an entered event's order is the arrival number";
    EXPECT_LT(entered[i]->seq, draws[0]->seq) << "an entrant entered after the draw";
  }
  // The streams' drawn frame carries the drawn event's seq.
  for (Entrant* e : streamed) {
    const std::string id = fleet_->Get(e->stream).first_of.at("drawn").id;
    ASSERT_EQ(id, std::to_string(draws[0]->seq)) << "the drawn frame's id: on " << e->ticket;
  }
  std::map<std::string, const Entrant*> by_ticket;
  for (const Entrant& e : entrants_) by_ticket[e.ticket] = &e;
  std::vector<int64_t> place_of;  // place of the i-th arrival
  place_of.reserve(kEntrants);
  for (const KafkaEvent* e : entered) {
    auto it = by_ticket.find(e->ticket);
    ASSERT_NE(it, by_ticket.end()) << "an entered event for a ticket nobody joined: " << e->ticket;
    place_of.push_back(place[it->second->entry_id]);
  }
  const double rho = SpearmanRho(place_of);
  const ChiSquare chi = DecileChiSquare(place_of);
  EXPECT_LT(std::fabs(rho), kMaxRho) << "place depends on arrival (Spearman)";
  EXPECT_GT(chi.p, kMinP) << "place depends on arrival (chi-square " << chi.chi2 << ", df "
                          << chi.df << ")";

  // ---- tools/verify-draw, as a visitor runs it ----
  const std::string doc = DrawDocument(pub);
  {
    // With the commitment this test read before the first join, as an archiving visitor would.
    ToolRun run = VerifyDraw({"--file", WriteFile("good.json", doc), "--commitment", commitment});
    EXPECT_EQ(run.code, 0) << run.out;
    EXPECT_NE(run.out.find("OK anteroom-draw-v1"), std::string::npos) << run.out;
  }
  {
    // The same draw downloaded by the tool itself, every page, from another process.
    const std::string saved = ::testing::TempDir() + "draw_redis_kafka_saved.json";
    ToolRun run =
        VerifyDraw({"--url", nodes_[1]->base_url() + "/v1/queues/" + kQueue, "--save", saved});
    EXPECT_EQ(run.code, 0) << run.out;
    std::ifstream in(saved);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json::value v = json::parse(text.empty() ? "null" : text);
    const json::value* entries = Field(v, "entries");
    EXPECT_TRUE(entries && entries->is_array() && entries->as_array().size() == pub.entries.size())
        << "verify-draw --save wrote " << text.substr(0, 300);
  }
  {
    PublishedDraw flipped = pub;
    std::string s = seed_hex;
    s[17] = s[17] == '0' ? '1' : '0';
    flipped.fields["seed"] = s;
    ToolRun run = VerifyDraw({"--file", WriteFile("flipped.json", DrawDocument(flipped))});
    EXPECT_EQ(run.code, 1) << run.out;
    EXPECT_NE(run.out.find("FAIL commitment"), std::string::npos) << run.out;
  }
  {
    PublishedDraw swapped = pub;
    std::swap(swapped.entries[9], swapped.entries[10]);  // places 10 and 11
    ToolRun run = VerifyDraw({"--file", WriteFile("swapped.json", DrawDocument(swapped))});
    EXPECT_EQ(run.code, 1) << run.out;
    EXPECT_NE(run.out.find("FAIL order: place 10 "), std::string::npos) << run.out;
  }
  {
    const Entrant& e = *streamed[streamed.size() / 2];
    const long long shown =
        Int(json::parse(fleet_->Get(e.stream).first_of.at("drawn").data), "place").value_or(-1);
    ToolRun run = VerifyDraw({"--file", WriteFile("good.json", doc), "--ticket", e.ticket});
    EXPECT_EQ(run.code, 0) << run.out;
    const std::string want = "entry id " + e.entry_id + ": place " + std::to_string(shown) +
                             " of " + std::to_string(kEntrants);
    EXPECT_NE(run.out.find(want), std::string::npos) << "want \"" << want << "\" in " << run.out;
  }
  const auto checked = Clock::now();

  // ---- admissions follow the places ----
  nodes_[2]->MustPutQueue(kQueue, {{"admit_per_s", kAdmitted}, {"max_active", kAdmitted}});
  ASSERT_TRUE(PollUntil(
      [&] {
        return IntAt(nodes_[0]->GetQueue(kQueue).Json(), {"stats", "active"}) == kAdmitted;
      },
      DeadlineIn(30s), 50ms))
      << nodes_[0]->GetQueue(kQueue);
  std::vector<long long> admitted_places;
  std::map<std::string, long long> place_by_ticket;
  for (const Entrant& e : entrants_) place_by_ticket[e.ticket] = place[e.entry_id];
  for (const KafkaEvent& e : KafkaEvents()) {
    if (e.type != "admitted") continue;
    auto it = place_by_ticket.find(e.ticket);
    ASSERT_NE(it, place_by_ticket.end()) << "a late joiner admitted before the entrants";
    admitted_places.push_back(it->second);
    EXPECT_EQ(e.order, draws[0]->order + it->second)
        << "an entrant's order after the draw is base + place";
  }
  ASSERT_EQ(admitted_places.size(), static_cast<std::size_t>(kAdmitted));
  for (std::size_t i = 0; i < admitted_places.size(); ++i) {
    ASSERT_EQ(admitted_places[i], static_cast<long long>(i) + 1)
        << "admission " << i + 1 << " went to place " << admitted_places[i];
  }
  // Streamed entrants among them are told.
  EXPECT_TRUE(fleet_->WaitUntil(
      [&](const auto& views) {
        for (Entrant* e : streamed)
          if (place[e->entry_id] <= kAdmitted && !views[e->stream].admitted) return false;
        return true;
      },
      DeadlineIn(30s)))
      << "an admitted entrant's stream was not told";

  std::cout << "[ measured ] " << kEntrants << " joins in " << Seconds(joined - started)
            << " s; 3,000 streams ready " << Seconds(streaming - joined) << " s later; drawn "
            << Seconds(drawn - streaming) << " s after the PUT (opens_at now+2), every stream told "
            << Seconds(told - drawn) << " s after; checks " << Seconds(checked - told) << " s; rho "
            << rho << ", chi2 " << chi.chi2 << " (p " << chi.p << "); " << pub.pages
            << " pages; total " << Seconds(Clock::now() - started) << " s\n";
}

}  // namespace
}  // namespace anteroom::testing
