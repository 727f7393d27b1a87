#include "support/anteroom_process.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace anteroom::testing {
namespace {

std::string FlagName(const std::string& arg) {
  if (arg.rfind("--", 0) != 0) return "";
  return arg.substr(0, arg.find('='));
}

}  // namespace

std::string AnteroomBinary() {
  if (const char* env = std::getenv("ANTEROOM_BINARY"); env != nullptr && *env != '\0') {
    return env;
  }
  return ANTEROOM_BINARY;
}

std::vector<std::string> AnteroomArgs(const std::vector<std::string>& extra_args) {
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"--listen", "127.0.0.1:0"},
      {"--admin-token", std::string(kAdminToken)},
      {"--token-secret", std::string(kTokenSecret)},
      {"--tick-ms", "20"},
      {"--join-rate-per-ip", "0"},
  };
  std::set<std::string> overridden;
  for (const auto& a : extra_args) overridden.insert(FlagName(a));
  std::vector<std::string> args;
  for (const auto& [flag, value] : defaults) {
    if (overridden.count(flag) != 0) continue;
    args.push_back(flag);
    args.push_back(value);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return args;
}

AnteroomProcess::AnteroomProcess(std::vector<std::string> extra_args, Deadline deadline)
    : http_(0) {
  Process::Options options;
  options.path = AnteroomBinary();
  options.args = AnteroomArgs(extra_args);
  process_ = std::make_unique<Process>(std::move(options));
  static const std::regex kListening(R"(^anteroom listening on http://127\.0\.0\.1:(\d+)$)");
  auto m = process_->WaitForLine(kListening, deadline);
  if (!m) {
    std::string why = process_->Running() ? "did not print its listening line in time"
                                          : process_->WaitExit(Clock::now())->Describe();
    std::ostringstream msg;
    msg << "anteroom " << why << "\nargs:";
    for (const auto& a : AnteroomArgs(extra_args)) msg << ' ' << a;
    msg << "\nstdout:\n" << process_->Stdout() << "\nstderr:\n" << process_->StderrTail();
    throw std::runtime_error(msg.str());
  }
  port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
  http_ = HttpClient(port_);
}

AnteroomProcess::~AnteroomProcess() {
  if (process_) StopAndCheck();
  if (process_ && ::testing::Test::HasFailure()) {
    std::cerr << "---- anteroom (port " << port_ << ") stderr, last lines ----\n"
              << process_->StderrTail() << "---- end of anteroom stderr ----\n";
  }
}

HttpResponse AnteroomProcess::Request(std::string_view method, std::string_view target,
                                      const Headers& headers, std::string body) const {
  return http_.Request(method, target, headers, std::move(body));
}

HttpResponse AnteroomProcess::Admin(std::string_view method, std::string_view target,
                                    std::string body, const Headers& headers) const {
  Headers h = headers;
  h.emplace_back("Authorization", "Bearer " + std::string(kAdminToken));
  if (!body.empty()) h.emplace_back("Content-Type", "application/json");
  return Request(method, target, h, std::move(body));
}

HttpResponse AnteroomProcess::PutQueue(std::string_view queue,
                                       const boost::json::object& config) const {
  return Admin("PUT", "/v1/queues/" + std::string(queue), boost::json::serialize(config));
}

HttpResponse AnteroomProcess::GetQueue(std::string_view queue) const {
  return Admin("GET", "/v1/queues/" + std::string(queue));
}

HttpResponse AnteroomProcess::DeleteQueue(std::string_view queue) const {
  return Admin("DELETE", "/v1/queues/" + std::string(queue));
}

void AnteroomProcess::MustPutQueue(std::string_view queue,
                                   const boost::json::object& config) const {
  HttpResponse r = PutQueue(queue, config);
  if (r.status != 200 && r.status != 201) {
    ADD_FAILURE() << "PUT /v1/queues/" << queue << " " << boost::json::serialize(config) << " → "
                  << r;
  }
}

boost::json::value AnteroomProcess::MustStats(std::string_view queue) const {
  HttpResponse r = GetQueue(queue);
  if (r.status != 200) {
    ADD_FAILURE() << "GET /v1/queues/" << queue << " → " << r;
    return nullptr;
  }
  boost::json::value body = r.Json();
  const auto* stats = Field(body, "stats");
  if (stats == nullptr || !stats->is_object()) {
    ADD_FAILURE() << "GET /v1/queues/" << queue << " has no stats object: " << r;
    return nullptr;
  }
  return *stats;
}

HttpResponse AnteroomProcess::Join(std::string_view queue,
                                   const std::optional<boost::json::object>& body,
                                   const Headers& headers) const {
  Headers h = headers;
  std::string payload;
  if (body) {
    payload = boost::json::serialize(*body);
    h.emplace_back("Content-Type", "application/json");
  }
  return Request("POST", "/v1/queues/" + std::string(queue) + "/tickets", h, payload);
}

std::string AnteroomProcess::MustJoin(std::string_view queue,
                                      const std::optional<boost::json::object>& body) const {
  HttpResponse r = Join(queue, body);
  if (r.status != 201) {
    ADD_FAILURE() << "POST /v1/queues/" << queue << "/tickets → " << r;
    return "";
  }
  std::string id = Str(r.Json(), "ticket");
  if (id.empty()) ADD_FAILURE() << "join response without ticket: " << r;
  return id;
}

std::string AnteroomProcess::TicketPath(std::string_view queue, std::string_view ticket) {
  return "/v1/queues/" + std::string(queue) + "/tickets/" + std::string(ticket);
}

std::string AnteroomProcess::EventsPath(std::string_view queue, std::string_view ticket) {
  return TicketPath(queue, ticket) + "/events";
}

HttpResponse AnteroomProcess::GetTicket(std::string_view queue, std::string_view ticket) const {
  return Request("GET", TicketPath(queue, ticket));
}

HttpResponse AnteroomProcess::Leave(std::string_view queue, std::string_view ticket) const {
  return Request("DELETE", TicketPath(queue, ticket));
}

HttpResponse AnteroomProcess::Complete(std::string_view queue, std::string_view ticket) const {
  return Admin("POST", TicketPath(queue, ticket) + "/complete");
}

std::unique_ptr<SseClient> AnteroomProcess::Events(std::string_view queue, std::string_view ticket,
                                                   std::optional<std::string> last_event_id) const {
  return std::make_unique<SseClient>(port_, EventsPath(queue, ticket), std::move(last_event_id));
}

HttpResponse AnteroomProcess::Verify(std::string_view token, std::string_view query,
                                     const Headers& headers) const {
  Headers h = headers;
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + std::string(token));
  std::string target = "/v1/verify";
  if (!query.empty()) target += "?" + std::string(query);
  return Request("GET", target, h);
}

void AnteroomProcess::BeginStop() {
  // Once only: the server keeps its SIGTERM handler only until its loop has stopped, so a second
  // signal during its teardown would end it by the default action (killed by SIGTERM).
  if (!process_->terminated() && process_->Running()) process_->Signal(SIGTERM);
}

void AnteroomProcess::StopAndCheck(Deadline deadline) {
  if (checked_) return;
  checked_ = true;
  Process& p = *process_;
  BeginStop();
  std::optional<ExitStatus> status = p.WaitExit(deadline);
  if (!status) {
    p.Signal(SIGKILL);
    status = p.WaitExit(DeadlineIn(kPatience));
    ADD_FAILURE() << "anteroom (port " << port_ << ", pid " << p.pid()
                  << ") still running when its time to exit after SIGTERM ran out; killed";
  } else if (!p.killed_on_purpose() && !(status->exited && status->code == 0)) {
    ADD_FAILURE() << "anteroom (port " << port_ << ", pid " << p.pid() << ") " << status->Describe()
                  << " at the end of the test (0 expected)";
  }
  std::string findings = SanitizerFindings(p);
  if (!findings.empty()) {
    ADD_FAILURE() << "sanitizer report in the stderr of anteroom (port " << port_ << ", pid "
                  << p.pid() << "):\n"
                  << findings << "stderr, last lines:\n"
                  << p.StderrTail(200);
  }
}

std::optional<ExitStatus> AnteroomProcess::Terminate(Deadline deadline) {
  process_->Signal(SIGTERM);
  return process_->WaitExit(deadline);
}

long long EventSeq(const SseEvent& event) {
  static const std::regex kDecimal("^[0-9]{1,18}$");
  if (!std::regex_match(event.id, kDecimal)) {
    ADD_FAILURE() << "event id is not a decimal queue seq: " << event.Describe();
    return -1;
  }
  return std::stoll(event.id);
}

std::optional<SseEvent> WaitForPosition(SseClient& stream, long long position, Deadline deadline) {
  return stream.WaitFor(
      [position](const SseEvent& e) {
        if (e.event != "position") return false;
        boost::system::error_code ec;
        auto v = boost::json::parse(e.data, ec);
        return !ec && Int(v, "position") == position;
      },
      deadline);
}

std::optional<double> SumMetric(std::string_view text, std::string_view needle) {
  std::optional<double> sum;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    // `name{labels} value [timestamp]` or `name value [timestamp]`.
    std::size_t end = line.find('{');
    end =
        end != std::string::npos && end < line.find(' ') ? line.find('}', end) + 1 : line.find(' ');
    if (end == 0 || end == std::string::npos || end >= line.size()) continue;
    std::string series = line.substr(0, end);
    if (series.find(needle) == std::string::npos) continue;
    std::istringstream rest(line.substr(end));
    std::string value;
    rest >> value;
    try {
      sum = sum.value_or(0) + std::stod(value);
    } catch (const std::exception&) {
    }
  }
  return sum;
}

std::optional<double> Sample(std::string_view text, std::string_view series) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(std::string(series) + " ", 0) == 0) return std::stod(line.substr(series.size()));
  return std::nullopt;
}

std::vector<std::unique_ptr<HttpConnection>> HoldConnections(const AnteroomProcess& server, int n) {
  std::vector<std::unique_ptr<HttpConnection>> held;
  for (int i = 0; i < n; ++i) {
    held.push_back(std::make_unique<HttpConnection>(server.port()));
    HttpResponse r = held.back()->Request("GET", "/healthz");
    EXPECT_EQ(r.status, 200) << "connection " << i + 1 << " of " << n << ": " << r;
  }
  return held;
}

}  // namespace anteroom::testing
