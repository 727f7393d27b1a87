// The dashboard over a real MemoryStore on a real io_context: the fleet row's JSON, the sample
// loop (driven by counting samples, never by waiting a guessed time), the overview and history,
// the Prometheus text, and the admin event streams on real sockets.
#include "dashboard/dashboard.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include "core/encoding.hpp"
#include "dashboard/test_io.hpp"
#include "store/memory_store.hpp"

namespace anteroom::dashboard {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- The fleet row ---------------------------------------------------------------------------

ProcessRow sample_row() {
  ProcessRow r;
  r.node = "host-1234";
  r.started_ms = 1767225500000;
  r.seen_ms = 1767225600100;
  r.streams = 118;
  r.admin_streams = 1;
  r.connections = 130;
  r.relay_lag_ms = 12.5;
  r.consumer_lag = 0;
  r.streams_by_queue = {{"concert", 100}, {"zoo", 18}};
  return r;
}

TEST(DashboardFleetRow, EncodeDecodeRoundTrip) {
  ProcessRow r = sample_row();
  std::string j = encode_row(r);
  EXPECT_EQ(j, R"({"node":"host-1234","started_ms":1767225500000,"seen_ms":1767225600100,)"
               R"("streams":118,"admin_streams":1,"connections":130,"relay_lag_ms":12.5,)"
               R"("outbox_backlog":null,"consumer_lag":0,"pubsub_reconnects":null,)"
               R"("streams_by_queue":{"concert":100,"zoo":18}})");
  auto back = decode_row(j);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->node, r.node);
  EXPECT_EQ(back->started_ms, r.started_ms);
  EXPECT_EQ(back->seen_ms, r.seen_ms);
  EXPECT_EQ(back->streams, r.streams);
  EXPECT_EQ(back->admin_streams, r.admin_streams);
  EXPECT_EQ(back->connections, r.connections);
  EXPECT_EQ(back->relay_lag_ms, r.relay_lag_ms);
  EXPECT_EQ(back->outbox_backlog, std::nullopt);
  EXPECT_EQ(back->consumer_lag, 0.0);
  EXPECT_EQ(back->pubsub_reconnects, std::nullopt);
  EXPECT_EQ(back->streams_by_queue, r.streams_by_queue);
  EXPECT_EQ(encode_row(*back), j);
  // A node id that needs escaping survives too.
  r.node = "a\"b\\c";
  EXPECT_EQ(decode_row(encode_row(r))->node, r.node);
}

TEST(DashboardFleetRow, BadJsonIsNoRow) {
  // A good row's fields with one changed (`node` and `streams` as given) and `extra` added.
  auto row = [](std::string node, std::string streams, std::string extra = "") {
    return R"({"node":)" + node + R"(,"started_ms":1,"seen_ms":1,"streams":)" + streams +
           R"(,"admin_streams":0,"connections":0)" + extra + "}";
  };
  ASSERT_TRUE(decode_row(row(R"("x")", "0")));
  for (const std::string& bad : std::vector<std::string>{
           "",
           "{",
           "null",
           "[]",
           "42",
           R"({"node":"x"})",
           R"({"node":"","started_ms":1})",
           row("7", "0"),
           row(R"("")", "0"),
           row(R"("x")", "0.5"),
           row(R"("x")", R"("1")"),
           row(R"("x")", "0", R"(,"relay_lag_ms":"3")"),
           row(R"("x")", "0", R"(,"streams_by_queue":[1])"),
           row(R"("x")", "0", R"(,"streams_by_queue":{"q":"1"})"),
           row(R"("x")", "0", "") + "]",
           std::string(R"({"node":"x")") + std::string(1, '\0') + "}",
       }) {
    EXPECT_FALSE(decode_row(bad)) << bad;
  }
  // The minimum: no pipeline figures, no streams.
  auto min = decode_row(
      R"({"node":"x","started_ms":1,"seen_ms":2,"streams":0,"admin_streams":0,"connections":0})");
  ASSERT_TRUE(min);
  EXPECT_TRUE(min->streams_by_queue.empty());
}

// ---- A Dashboard over a MemoryStore ----------------------------------------------------------

struct NullSink : EventSink {
  void publish(const Event&) override {}
};


class DashboardTest : public ::testing::Test {
 protected:
  DashboardTest() : store(sink) {}

  // Runs one coroutine to its end on io (the dashboard's loop goes on meanwhile).
  template <class T>
  T run(asio::awaitable<T> a) {
    return test_io::run_on(io, std::move(a));
  }
  template <class F>
  bool run_until(F done, std::chrono::seconds limit = 20s) {
    return test_io::run_until(io, done, limit);
  }

  // Waits for `n` more samples than now: at least n − 1 whole samples begin after this call.
  bool samples(uint64_t n) {
    const uint64_t want = dash->samples() + n;
    return run_until([&] { return dash->samples() >= want; });
  }

  void make(Options o = {}) {
    o.node_id = o.node_id.empty() ? "node-a" : o.node_id;
    o.mode = "embedded";
    if (o.sample == 1000ms) o.sample = 20ms;
    LocalProbe probe;
    probe.streams_by_queue = [this] { return local_streams; };
    probe.connections = [] { return int64_t{7}; };
    dash = std::make_unique<Dashboard>(io, store, *fleet, registry, probe, o);
  }

  ConfigPatch queue_cfg(double rate, int64_t max_active) {
    ConfigPatch p;
    p.admit_per_s = rate;
    p.max_active = max_active;
    return p;
  }

  json::object overview() { return json::parse(dash->overview()).as_object(); }
  static const json::object* find_queue(const json::object& ov, std::string_view name) {
    for (const auto& q : ov.at("queues").as_array())
      if (q.as_object().at("name").as_string() == name) return &q.as_object();
    return nullptr;
  }

  asio::io_context io;
  NullSink sink;
  MemoryStore store;
  std::unique_ptr<FleetBoard> fleet = memory_fleet();
  metrics::Registry registry;
  std::vector<std::pair<std::string, int64_t>> local_streams;
  std::unique_ptr<Dashboard> dash;
};

TEST_F(DashboardTest, BeforeTheFirstSampleTheFrameIsAFleetWithNoQueue) {
  make();
  auto ov = overview();
  EXPECT_EQ(ov.at("node").as_string(), "node-a");
  EXPECT_EQ(ov.at("mode").as_string(), "embedded");
  EXPECT_TRUE(ov.at("queues").as_array().empty());
  EXPECT_TRUE(ov.at("processes").as_array().empty());
  EXPECT_GT(ov.at("t_ms").as_int64(), 0);
  EXPECT_TRUE(dash->enabled());
  EXPECT_FALSE(dash->history("q"));
}

TEST_F(DashboardTest, OverviewShowsEveryQueueWithTheNumbersOfGetQueue) {
  make();
  const Millis now = wall_ms();
  ASSERT_TRUE(run(store.put_queue("concert", queue_cfg(2, 2), now)).ok());
  ASSERT_TRUE(run(store.put_queue("alpha", queue_cfg(0, 10), now)).ok());
  ConfigPatch closed = queue_cfg(1, 1);
  ASSERT_TRUE(run(store.put_queue("zed", closed, now)).ok());
  ASSERT_TRUE(run(store.close_queue("zed", now)).ok());
  // Two admitted at once (room, nobody waiting), then a line of five.
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(run(store.join("concert", "", now + i)).ok());
  local_streams = {{"concert", 4}};
  dash->start();
  ASSERT_TRUE(samples(2));
  auto ov = overview();
  auto names = ov.at("queues").as_array();
  ASSERT_EQ(names.size(), 3u);  // sorted by name, closed ones too
  EXPECT_EQ(names[0].as_object().at("name").as_string(), "alpha");
  EXPECT_EQ(names[1].as_object().at("name").as_string(), "concert");
  EXPECT_EQ(names[2].as_object().at("name").as_string(), "zed");
  auto got = run(store.get_queue("concert"));
  ASSERT_TRUE(got.ok());
  ASSERT_NE(find_queue(ov, "concert"), nullptr);
  const json::object& q = *find_queue(ov, "concert");
  EXPECT_EQ(q.at("waiting").as_int64(), got->stats.waiting);
  EXPECT_EQ(q.at("active").as_int64(), got->stats.active);
  EXPECT_EQ(q.at("waiting").as_int64(), 5);
  EXPECT_EQ(q.at("active").as_int64(), 2);
  EXPECT_EQ(q.at("state").as_string(), "open");
  EXPECT_EQ(q.at("mode").as_string(), "fifo");
  EXPECT_EQ(q.at("paused").as_bool(), false);
  EXPECT_EQ(q.at("max_active").as_int64(), 2);
  EXPECT_EQ(q.at("draw").as_string(), "none");
  EXPECT_EQ(q.at("message").as_string(), "");
  EXPECT_EQ(q.at("streams").as_int64(), 4);
  EXPECT_EQ(q.at("eta_last_s").as_int64(), -1);  // rate 0: nobody is admitted
  EXPECT_GE(q.at("oldest_wait_s").as_int64(), 0);
  EXPECT_EQ(find_queue(ov, "zed")->at("state").as_string(), "closed");
  // One process: this one.
  auto procs = ov.at("processes").as_array();
  ASSERT_EQ(procs.size(), 1u);
  const json::object& p = procs[0].as_object();
  EXPECT_EQ(p.at("node").as_string(), "node-a");
  EXPECT_TRUE(p.at("self").as_bool());
  EXPECT_FALSE(p.at("stale").as_bool());
  EXPECT_EQ(p.at("streams").as_int64(), 4);
  EXPECT_EQ(p.at("connections").as_int64(), 7);
  EXPECT_EQ(p.at("admin_streams").as_int64(), 0);
  EXPECT_TRUE(p.at("relay_lag_ms").is_null());  // embedded: no pipeline
  EXPECT_EQ(p.at("streams_by_queue").as_object().at("concert").as_int64(), 4);

  // Pause and message show at the next sample.
  ConfigPatch pause;
  pause.paused = true;
  pause.message = "back at 8 \"sharp\"";
  ASSERT_TRUE(run(store.put_queue("concert", pause, wall_ms())).ok());
  ASSERT_TRUE(samples(2));
  auto ov2 = overview();
  const json::object* q2p = find_queue(ov2, "concert");
  ASSERT_NE(q2p, nullptr);
  const json::object& q2 = *q2p;
  EXPECT_EQ(q2.at("state").as_string(), "paused");
  EXPECT_TRUE(q2.at("paused").as_bool());
  EXPECT_EQ(q2.at("message").as_string(), "back at 8 \"sharp\"");
}

TEST_F(DashboardTest, HistoryGrowsOnePointPerSampleAndRatesFollowTheStore) {
  make();
  const Millis now = wall_ms();
  ASSERT_TRUE(run(store.put_queue("q", queue_cfg(1000, 1000), now)).ok());
  dash->start();
  ASSERT_TRUE(run_until([&] { return dash->samples() >= 1; }));
  for (uint64_t k = 1; k <= 5; ++k) {
    const uint64_t before = dash->samples();
    auto h = dash->history("q");
    ASSERT_TRUE(h);
    auto points = json::parse(*h).as_object().at("points").as_array();
    EXPECT_EQ(points.size(), before);  // the queue was there from the first sample
    ASSERT_TRUE(samples(1));
    auto h2 = json::parse(*dash->history("q")).as_object();
    EXPECT_EQ(h2.at("points").as_array().size(), dash->samples());
    EXPECT_EQ(h2.at("queue").as_string(), "q");
  }
  // The first point has no rates; joins between samples show as joins/s > 0 (and admissions:
  // everyone is admitted at once into an empty room).
  auto first = json::parse(*dash->history("q")).as_object().at("points").as_array()[0];
  EXPECT_EQ(first.as_object().at("joins_per_s").to_number<double>(), 0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(run(store.join("q", "", wall_ms())).ok());
  ASSERT_TRUE(samples(2));
  auto pts = json::parse(*dash->history("q")).as_object().at("points").as_array();
  double joins = 0, admitted = 0;
  for (auto& p : pts) {
    joins = std::max(joins, p.as_object().at("joins_per_s").to_number<double>());
    admitted = std::max(admitted, p.as_object().at("admitted_per_s").to_number<double>());
    EXPECT_GE(p.as_object().at("joins_per_s").to_number<double>(), 0);
  }
  EXPECT_GT(joins, 0);
  EXPECT_GT(admitted, 0);
  // Oldest first, t never going back.
  for (size_t i = 1; i < pts.size(); ++i)
    EXPECT_LE(pts[i - 1].as_object().at("t").as_int64(), pts[i].as_object().at("t").as_int64());
}

TEST_F(DashboardTest, HistoryIsBoundedAndAForgottenQueueIsDropped) {
  Options o;
  o.history_points = 5;
  make(o);
  const Millis now = wall_ms();
  ConfigPatch p = queue_cfg(0, 10);
  p.abandon_after_s = 1;
  ASSERT_TRUE(run(store.put_queue("gone", p, now)).ok());
  ASSERT_TRUE(run(store.put_queue("stays", p, now)).ok());
  dash->start();
  ASSERT_TRUE(samples(8));
  EXPECT_EQ(json::parse(*dash->history("gone")).as_object().at("points").as_array().size(), 5u);
  // Closed, then forgotten by the store once its grace is over.
  ASSERT_TRUE(run(store.close_queue("gone", now)).ok());
  ASSERT_TRUE(run(store.tick("gone", now + 60'000)).ok());
  ASSERT_EQ(run(store.get_queue("gone")).error().code, Errc::queue_not_found);
  ASSERT_TRUE(samples(2));
  EXPECT_FALSE(dash->history("gone"));
  EXPECT_EQ(find_queue(overview(), "gone"), nullptr);
  EXPECT_TRUE(dash->history("stays"));
}

// Parses Prometheus text exposition: every sample's family was declared once (HELP and TYPE)
// before it, and every sample's value is a number.
void expect_exposition(const std::string& text) {
  std::set<std::string> helped, typed;
  std::map<std::string, std::string> type_of;
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "two HELP for " << name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      std::string type = rest.substr(rest.find(' ') + 1);
      EXPECT_TRUE(typed.insert(name).second) << "two TYPE for " << name;
      EXPECT_TRUE(type == "gauge" || type == "counter" || type == "histogram") << line;
      type_of[name] = type;
      continue;
    }
    ASSERT_NE(line[0], '#') << line;
    size_t end = line.find_first_of("{ ");
    ASSERT_NE(end, std::string::npos) << line;
    std::string name = line.substr(0, end);
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s(suffix);
      if (!type_of.count(family) && name.size() > s.size() &&
          name.compare(name.size() - s.size(), s.size(), s) == 0 &&
          type_of.count(name.substr(0, name.size() - s.size())))
        family = name.substr(0, name.size() - s.size());
    }
    EXPECT_TRUE(type_of.count(family)) << "sample before its TYPE: " << line;
    if (line[end] == '{') {
      size_t close = line.find('}', end);
      ASSERT_NE(close, std::string::npos) << line;
      end = close + 1;
    }
    ASSERT_EQ(line[end], ' ') << line;
    std::string value = line.substr(end + 1);
    char* stop = nullptr;
    std::strtod(value.c_str(), &stop);
    EXPECT_TRUE(stop && *stop == '\0' && !value.empty()) << line;
    ++samples;
  }
  EXPECT_EQ(helped, typed);
  EXPECT_GT(samples, 0);
}

TEST_F(DashboardTest, MetricsShowTheLatestSamplePerQueue) {
  make();
  const Millis now = wall_ms();
  ConfigPatch p = queue_cfg(1, 1);  // one admitted at once (a full bucket of 1), three wait
  ASSERT_TRUE(run(store.put_queue("concert", p, now)).ok());
  p.paused = true;
  ASSERT_TRUE(run(store.put_queue("paused-one", p, now)).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(run(store.join("concert", "", now)).ok());
  local_streams = {{"concert", 3}};
  dash->start();
  ASSERT_TRUE(samples(2));
  const std::string text = registry.render();
  expect_exposition(text);
  for (const char* want : {
           "anteroom_queue_waiting{queue=\"concert\"} 3\n",
           "anteroom_queue_active{queue=\"concert\"} 1\n",
           "anteroom_queue_joined_total{queue=\"concert\"} 4\n",
           "anteroom_queue_admitted_total{queue=\"concert\"} 1\n",
           "anteroom_queue_abandoned_total{queue=\"concert\"} 0\n",
           "anteroom_queue_paused{queue=\"concert\"} 0\n",
           "anteroom_queue_paused{queue=\"paused-one\"} 1\n",
           "anteroom_queue_closed{queue=\"concert\"} 0\n",
           "anteroom_queue_streams{queue=\"concert\"} 3\n",
           "anteroom_queue_streams{queue=\"paused-one\"} 0\n",
           "# TYPE anteroom_queue_oldest_wait_seconds gauge\n",
           "# TYPE anteroom_queue_joined_total counter\n",
           "anteroom_store_up 1\n",
           "# TYPE anteroom_dashboard_sample_seconds histogram\n",
       })
    EXPECT_NE(text.find(want), std::string::npos) << want << "\nin:\n" << text;
  EXPECT_EQ(registry.value("store_up"), 1.0);
}

TEST_F(DashboardTest, OffMeansNoSampleAndNoMetrics) {
  Options o;
  o.sample = 0ms;
  make(o);
  EXPECT_FALSE(dash->enabled());
  dash->start();
  io.restart();
  io.poll();
  EXPECT_EQ(dash->samples(), 0u);
  EXPECT_EQ(registry.render().find("anteroom_queue_"), std::string::npos);
  asio::ip::tcp::socket s(io);
  EXPECT_FALSE(dash->attach(s, "", [] {}));
}

// ---- Admin event streams on real sockets -----------------------------------------------------

struct SocketPair {
  explicit SocketPair(asio::io_context& io) : client(io), server(io) {
    asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
    client.connect(acc.local_endpoint());
    acc.accept(server);
  }
  asio::ip::tcp::socket client, server;
};

TEST_F(DashboardTest, WatchersGetTheHeadThenAnOverviewFrameAtOnceAndEverySample) {
  make();
  ASSERT_TRUE(run(store.put_queue("q", queue_cfg(0, 10), wall_ms())).ok());
  dash->start();
  ASSERT_TRUE(run_until([&] { return dash->samples() >= 1; }));
  SocketPair sp(io);
  int detached = 0;
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 2000\n\n";
  ASSERT_TRUE(dash->attach(sp.server, head, [&] { ++detached; }));
  EXPECT_EQ(dash->watchers(), 1u);
  // Read until three frames have come.
  std::string got;
  char buf[65536];
  bool reading = false;
  std::function<void()> read_more = [&] {
    reading = true;
    sp.client.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, size_t n) {
      reading = false;
      if (!ec) got.append(buf, n);
    });
  };
  auto frames = [&] {
    size_t n = 0;
    for (size_t at = got.find("event: overview\ndata: "); at != std::string::npos;
         at = got.find("event: overview\ndata: ", at + 1))
      if (got.find("\n\n", at) != std::string::npos) ++n;
    return n;
  };
  ASSERT_TRUE(run_until([&] {
    if (!reading) read_more();
    return frames() >= 3;
  }));
  ASSERT_EQ(got.rfind(head, 0), 0u);
  // Each frame is the whole overview as JSON; the self row counts this watcher.
  size_t at = got.find("data: ") + 6;
  auto frame = json::parse(got.substr(at, got.find('\n', at) - at)).as_object();
  EXPECT_EQ(frame.at("node").as_string(), "node-a");
  auto last_at = got.rfind("data: ") + 6;
  auto last = json::parse(got.substr(last_at, got.find('\n', last_at) - last_at)).as_object();
  EXPECT_EQ(last.at("processes").as_array()[0].as_object().at("admin_streams").as_int64(), 1);
  EXPECT_NE(find_queue(last, "q"), nullptr);
  EXPECT_GE(last.at("t_ms").as_int64(), frame.at("t_ms").as_int64());
  // The client goes: on_detach once, the place is free.
  sp.client.close();
  ASSERT_TRUE(run_until([&] { return detached > 0; }));
  ASSERT_TRUE(samples(2));
  EXPECT_EQ(detached, 1);
  EXPECT_EQ(dash->watchers(), 0u);
}

TEST_F(DashboardTest, MoreThanMaxWatchersAreRefusedAndStopEndsTheRest) {
  Options o;
  o.max_watchers = 2;
  make(o);
  dash->start();
  ASSERT_TRUE(run_until([&] { return dash->samples() >= 1; }));
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<int> detached(3, 0);
  for (int i = 0; i < 3; ++i) pairs.push_back(std::make_unique<SocketPair>(io));
  EXPECT_TRUE(dash->attach(pairs[0]->server, "", [&] { ++detached[0]; }));
  EXPECT_TRUE(dash->attach(pairs[1]->server, "", [&] { ++detached[1]; }));
  EXPECT_FALSE(dash->attach(pairs[2]->server, "", [&] { ++detached[2]; }));
  EXPECT_TRUE(pairs[2]->server.is_open());   // refused: nothing taken, the caller answers 503
  EXPECT_FALSE(pairs[0]->server.is_open());  // taken (moved into the watcher)
  EXPECT_EQ(dash->watchers(), 2u);
  ASSERT_TRUE(samples(2));
  dash->stop();
  EXPECT_EQ(dash->watchers(), 0u);
  EXPECT_EQ(detached, (std::vector<int>{1, 1, 0}));
  // Their clients see the end of the stream.
  for (int i = 0; i < 2; ++i) {
    std::string all;
    boost::system::error_code ec;
    asio::read(pairs[i]->client, asio::dynamic_buffer(all), ec);
    EXPECT_EQ(ec, asio::error::eof) << i;
    EXPECT_NE(all.find("event: overview\n"), std::string::npos) << i;
  }
  // Stopped: no more samples, no new watcher.
  const uint64_t n = dash->samples();
  io.restart();
  io.poll();
  EXPECT_EQ(dash->samples(), n);
  EXPECT_FALSE(dash->attach(pairs[2]->server, "", [] {}));
  dash.reset();
  EXPECT_EQ(detached, (std::vector<int>{1, 1, 0}));
}

}  // namespace
}  // namespace anteroom::dashboard
