// The monitoring examples an operator copies (examples/prometheus, examples/grafana;
// docs/monitoring.md) checked the way they will be used: Prometheus's own `promtool` checks the
// alert rules and the scrape config and runs the rules' unit tests (alerts_test.yml); every
// dashboard query is PromQL that promtool accepts; and every anteroom_ metric the dashboard or
// the alerts name is served by a real process of a fleet (redis-server + kafka-mock, so the
// pipeline's metrics exist, and one queue with one join, so the per-queue series exist). A
// metric renamed in src/ without the examples following fails here.
//
// promtool comes from Debian's `prometheus` package (./dev installs it); missing, the tests
// fail, never skip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/kafka_mock.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kQueue = "concert";

fs::path Examples() { return fs::path(ANTEROOM_SOURCE_DIR) / "examples"; }

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ToolRun {
  bool ran = false;  // the tool exists and exited by itself
  int code = -1;
  std::string output;  // stdout then stderr, for failure messages
};

// Runs promtool with `args` to its end. A missing promtool is a failure of the calling test.
ToolRun Promtool(const std::vector<std::string>& args) {
  ToolRun run;
  if (::access(kPromtool, X_OK) != 0) {
    ADD_FAILURE() << kPromtool << " is missing: install Debian's `prometheus` package "
                  << "(./dev test does)";
    return run;
  }
  Process::Options options;
  options.path = kPromtool;
  options.args = args;
  Process p(options);
  auto status = p.WaitExit(DeadlineIn(kPatience * 3));
  run.output = p.Stdout() + p.Stderr();
  if (!status) {
    ADD_FAILURE() << "promtool did not finish: " << run.output;
    return run;
  }
  run.ran = status->exited;
  run.code = status->code;
  return run;
}

// Every string under a key called `key`, anywhere in `v`.
void Collect(const json::value& v, std::string_view key, std::vector<std::string>& out) {
  if (const auto* o = v.if_object()) {
    for (const auto& [k, x] : *o) {
      if (k == key && x.is_string()) out.emplace_back(x.as_string());
      Collect(x, key, out);
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& x : *a) Collect(x, key, out);
  }
}

json::value Dashboard() {
  std::string text = ReadFile(Examples() / "grafana" / "anteroom.json");
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << "examples/grafana/anteroom.json does not parse: " << ec.message();
  return v;
}

// The anteroom_ names in `text`.
std::set<std::string> MetricNames(const std::string& text) {
  static const std::regex kName("anteroom_[a-z0-9_]+");
  std::set<std::string> names;
  for (std::sregex_iterator it(text.begin(), text.end(), kName), end; it != end; ++it) {
    names.insert(it->str());
  }
  return names;
}

// The anteroom_ names the dashboard's queries and variable definitions use.
std::set<std::string> DashboardMetricNames() {
  std::vector<std::string> queries;
  json::value d = Dashboard();
  Collect(d, "expr", queries);
  Collect(d, "definition", queries);
  std::set<std::string> names;
  for (const auto& q : queries) names.merge(MetricNames(q));
  return names;
}

// The anteroom_ names of alerts.yml, comments left out (they may speak of families loosely).
std::set<std::string> AlertMetricNames() {
  std::istringstream in(ReadFile(Examples() / "prometheus" / "alerts.yml"));
  std::string line, code;
  for (std::string l; std::getline(in, l);) {
    auto first = l.find_first_not_of(' ');
    if (first != std::string::npos && l[first] == '#') continue;
    code += l + "\n";
  }
  return MetricNames(code);
}

// The names of the samples in Prometheus text: a histogram's `_bucket`, `_sum` and `_count`
// lines are there as such, so a query's `x_bucket` must match real `x_bucket` lines.
std::set<std::string> SampleNames(const std::string& exposition) {
  std::set<std::string> names;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

std::string Join(const std::set<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

TEST(ExamplesMonitoring, PromtoolChecksTheAlertRulesAndTheScrapeConfig) {
  ToolRun rules = Promtool({"check", "rules", (Examples() / "prometheus" / "alerts.yml").string()});
  EXPECT_TRUE(rules.ran && rules.code == 0) << rules.output;
  EXPECT_NE(rules.output.find("SUCCESS"), std::string::npos) << rules.output;
  // The scrape config names alerts.yml: promtool checks it too, from the config's folder.
  ToolRun config =
      Promtool({"check", "config", (Examples() / "prometheus" / "prometheus.yml").string()});
  EXPECT_TRUE(config.ran && config.code == 0) << config.output;
}

TEST(ExamplesMonitoring, PromtoolUnitTestsOfTheAlertsPass) {
  ToolRun run =
      Promtool({"test", "rules", (Examples() / "prometheus" / "alerts_test.yml").string()});
  EXPECT_TRUE(run.ran && run.code == 0) << run.output;
  EXPECT_NE(run.output.find("SUCCESS"), std::string::npos) << run.output;
  // Every alert of alerts.yml has its cases in alerts_test.yml.
  static const std::regex kAlert(R"(- alert: (\w+))");
  std::string rules = ReadFile(Examples() / "prometheus" / "alerts.yml");
  std::string tests = ReadFile(Examples() / "prometheus" / "alerts_test.yml");
  int alerts = 0;
  for (std::sregex_iterator it(rules.begin(), rules.end(), kAlert), end; it != end; ++it) {
    ++alerts;
    EXPECT_NE(tests.find("alertname: " + (*it)[1].str() + "\n"), std::string::npos)
        << (*it)[1] << " has no case in alerts_test.yml";
  }
  EXPECT_GE(alerts, 7);  // backlog, relay lag, consumer lag, Pub/Sub, 5xx, dead letters, readiness
}

// Grafana's own checks need Grafana; what an import needs is checked here: the JSON parses,
// the schema, the variables the panels use, a datasource and a query on every panel, and every
// query parses as PromQL (promtool checks them as recording rules, Grafana's variables
// replaced by what "All" and the rate interval stand for).
TEST(ExamplesMonitoring, GrafanaDashboardParsesAndItsQueriesArePromQL) {
  json::value d = Dashboard();
  ASSERT_TRUE(d.is_object());
  const json::object& o = d.as_object();
  ASSERT_TRUE(o.contains("schemaVersion") && o.at("schemaVersion").is_int64());
  EXPECT_GE(o.at("schemaVersion").as_int64(), 36);
  std::set<std::string> variables;
  const auto* templating = o.if_contains("templating");
  ASSERT_TRUE(templating != nullptr && templating->is_object());
  for (const auto& v : templating->as_object().at("list").as_array()) {
    variables.insert(std::string(v.as_object().at("name").as_string()));
  }
  for (const char* v : {"datasource", "job", "instance", "queue"}) {
    EXPECT_TRUE(variables.count(v)) << "no dashboard variable " << v;
  }

  std::set<std::int64_t> ids;
  std::vector<std::string> exprs;
  const auto* panels = o.if_contains("panels");
  ASSERT_TRUE(panels != nullptr && panels->is_array());
  for (const auto& pv : panels->as_array()) {
    const json::object& p = pv.as_object();
    std::string title(p.at("title").as_string());
    EXPECT_TRUE(ids.insert(p.at("id").as_int64()).second) << "panel id repeated: " << title;
    if (p.at("type").as_string() == "row") continue;
    EXPECT_EQ(json::serialize(p.at("datasource")), R"({"type":"prometheus","uid":"${datasource}"})")
        << title;
    std::vector<std::string> mine;
    Collect(p.at("targets"), "expr", mine);
    EXPECT_FALSE(mine.empty()) << title << " has no query";
    for (auto& e : mine) {
      EXPECT_NE(e.find("instance=~\"$instance\""), std::string::npos)
          << title << ": a query that ignores the instance variable: " << e;
      exprs.push_back(e);
    }
  }
  ASSERT_GE(exprs.size(), 30u);

  std::string rules = "groups:\n  - name: grafana\n    rules:\n";
  for (std::size_t i = 0; i < exprs.size(); ++i) {
    std::string e = std::regex_replace(exprs[i], std::regex(R"(\$__rate_interval)"), "1m");
    e = std::regex_replace(e, std::regex(R"(\$(job|instance|queue)\b)"), ".*");
    // A JSON string is a YAML string: the query goes in as serialize() writes it.
    rules += "      - record: grafana:query_" + std::to_string(i) +
             "\n        expr: " + json::serialize(json::string(e)) + "\n";
  }
  fs::path dir = fs::temp_directory_path() / ("anteroom-grafana-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "queries.yml") << rules;
  ToolRun run = Promtool({"check", "rules", (dir / "queries.yml").string()});
  EXPECT_TRUE(run.ran && run.code == 0) << run.output << "\n" << rules;
  fs::remove_all(dir);
}

TEST(ExamplesMonitoring, EveryMetricTheExamplesUseIsServedByAFleetProcess) {
  std::set<std::string> wanted = DashboardMetricNames();
  wanted.merge(AlertMetricNames());
  // The lists are read, not empty by mistake: the families each file must show exist.
  for (const char* n :
       {"anteroom_queue_waiting", "anteroom_outbox_backlog", "anteroom_admission_to_sse_ms_bucket",
        "anteroom_store_up", "anteroom_webhook_dead_total", "anteroom_http_responses_total"}) {
    EXPECT_TRUE(wanted.count(n)) << n << " is not used by the examples";
  }

  RedisServer redis;
  KafkaMock kafka;
  AnteroomProcess server(
      {"--redis", redis.url(), "--kafka", kafka.brokers(), "--node-id", "obs-1"});
  server.MustPutQueue(kQueue, {{"admit_per_s", 1}, {"max_active", 10}});
  server.MustJoin(kQueue);

  // Per-queue series come from the dashboard's sample (once a second): poll until they show.
  std::set<std::string> missing;
  std::string exposition;
  const std::string queue_series = std::string("anteroom_queue_waiting{queue=\"") + kQueue + "\"}";
  bool all = PollUntil(
      [&] {
        HttpResponse r = server.Metrics();
        if (r.status != 200) return false;
        exposition = r.body;
        std::set<std::string> served = SampleNames(exposition);
        missing.clear();
        for (const auto& n : wanted) {
          if (!served.count(n)) missing.insert(n);
        }
        return missing.empty() && exposition.find(queue_series) != std::string::npos;
      },
      DeadlineIn(kPatience), std::chrono::milliseconds(100));
  EXPECT_TRUE(all) << "named by the examples, not in /metrics: " << Join(missing)
                   << "\n--- /metrics:\n"
                   << exposition;
  EXPECT_NE(exposition.find(queue_series), std::string::npos)
      << "the queue variable's query would not find the queue";
  server.StopAndCheck();
}

}  // namespace
}  // namespace anteroom::testing
