// The real `anteroom` binary running as a child process, with test-friendly defaults and
// helpers for the HTTP API.
//
// Defaults: --listen 127.0.0.1:0 --admin-token test-admin --token-secret test-secret
// --tick-ms 20 --join-rate-per-ip 0. An extra argument naming one of these flags replaces the
// default, so a test may pass e.g. {"--join-rate-per-ip", "1"} or {"--redis", url}.
// Several instances may run at once (each on its own ephemeral port).
//
// Lifetime: the constructor returns once the server printed its listening line, or throws
// std::runtime_error (with the server's stderr) if it exits or stays silent past the deadline.
// Every test ends its servers as a deployment does, and checks how they ended: the destructor
// runs StopAndCheck (SIGTERM, then a bounded wait) unless the test already did, so an exit
// status other than 0, a hang at shutdown or a sanitizer report (a leak is only reported at a
// clean exit) fails the test. A test that crashes a server on purpose says so with
// process().Kill(). If the current test has failed, the destructor then prints the tail of the
// server's stderr, so the failure comes with the server's side of the story.
// Helpers return responses for the test to assert on; they never assert themselves, except the
// Must* ones, which record a GoogleTest failure (and return an empty value) when the server
// refuses.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"
#include "support/json_util.hpp"
#include "support/process.hpp"
#include "support/sse_client.hpp"

namespace anteroom::testing {

inline constexpr std::string_view kAdminToken = "test-admin";
inline constexpr std::string_view kTokenSecret = "test-secret";

// How long a server may take to exit after SIGTERM at the end of a test before it counts as
// hung: far above the default --shutdown-grace-s (5 s), as a sanitizer build is slow to exit.
inline constexpr std::chrono::seconds kStopPatience{30};

// Path of the binary under test (the CMake target `anteroom`).
std::string AnteroomBinary();

// The command line the binary would get: defaults with `extra_args` applied.
std::vector<std::string> AnteroomArgs(const std::vector<std::string>& extra_args);

class AnteroomProcess {
 public:
  explicit AnteroomProcess(std::vector<std::string> extra_args = {},
                           Deadline deadline = DeadlineIn(kPatience));
  ~AnteroomProcess();
  AnteroomProcess(const AnteroomProcess&) = delete;
  AnteroomProcess& operator=(const AnteroomProcess&) = delete;

  std::uint16_t port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  Process& process() { return *process_; }
  const HttpClient& http() const { return http_; }

  // A plain request on a fresh connection.
  HttpResponse Request(std::string_view method, std::string_view target,
                       const Headers& headers = {}, std::string body = {}) const;
  // A request carrying `Authorization: Bearer test-admin`.
  HttpResponse Admin(std::string_view method, std::string_view target, std::string body = {},
                     const Headers& headers = {}) const;

  // Operator API.
  HttpResponse PutQueue(std::string_view queue, const boost::json::object& config) const;
  HttpResponse GetQueue(std::string_view queue) const;
  HttpResponse DeleteQueue(std::string_view queue) const;
  // `PUT /v1/queues/{q}`; records a failure unless the server answers 200 or 201.
  void MustPutQueue(std::string_view queue, const boost::json::object& config) const;
  // `GET /v1/queues/{q}` → the "stats" object (null and a recorded failure if not 200).
  boost::json::value MustStats(std::string_view queue) const;

  // Visitor API. `body` is serialized as JSON when given.
  HttpResponse Join(std::string_view queue,
                    const std::optional<boost::json::object>& body = std::nullopt,
                    const Headers& headers = {}) const;
  // Joins and returns the ticket id; records a failure ("" returned) unless 201.
  std::string MustJoin(std::string_view queue,
                       const std::optional<boost::json::object>& body = std::nullopt) const;
  HttpResponse GetTicket(std::string_view queue, std::string_view ticket) const;
  HttpResponse Leave(std::string_view queue, std::string_view ticket) const;
  HttpResponse Complete(std::string_view queue, std::string_view ticket) const;
  static std::string TicketPath(std::string_view queue, std::string_view ticket);
  static std::string EventsPath(std::string_view queue, std::string_view ticket);
  // Opens the ticket's event stream (status is not checked here).
  std::unique_ptr<SseClient> Events(std::string_view queue, std::string_view ticket,
                                    std::optional<std::string> last_event_id = std::nullopt) const;

  // `GET /v1/verify[?query]` with `Authorization: Bearer <token>` (none if token is empty).
  HttpResponse Verify(std::string_view token, std::string_view query = "",
                      const Headers& headers = {}) const;
  HttpResponse Metrics() const { return Request("GET", "/metrics"); }

  // Sends SIGTERM and waits for the exit status (nullopt if still running at the deadline).
  std::optional<ExitStatus> Terminate(Deadline deadline);

  // Sends SIGTERM if the server still runs and was not sent one yet; does not wait
  // (StopAndCheck does).
  void BeginStop();
  // Ends the server and checks how it ended, once (later calls do nothing): SIGTERM if it still
  // runs, then waits for its exit until `deadline`. Records a GoogleTest failure if it has not
  // exited by then (it is then killed with SIGKILL), if it exited other than with status 0
  // (unless the test killed it with process().Kill()), or if its stderr holds a sanitizer
  // report (SanitizerFindings).
  void StopAndCheck(Deadline deadline = DeadlineIn(kStopPatience));

 private:
  std::unique_ptr<Process> process_;
  bool checked_ = false;
  std::uint16_t port_ = 0;
  HttpClient http_;
};

// The queue seq carried in an event's `id:` (decimal per docs/api.md); -1 and a recorded
// failure if the id is not a decimal number.
long long EventSeq(const SseEvent& event);
// Waits for a `position` event whose position is `position` (other events are skipped).
std::optional<SseEvent> WaitForPosition(SseClient& stream, long long position,
                                        Deadline deadline = DeadlineIn(kPatience));

// Sum of the values of every sample line in Prometheus text whose line (name and labels)
// contains `needle`, or nullopt if there is no such line.
std::optional<double> SumMetric(std::string_view prometheus_text, std::string_view needle);
// The value of the one sample `series` (exact name, no labels) in Prometheus text; nullopt if
// absent. (SumMetric matches substrings: "sse_streams" is also "sse_streams_replaced_total".)
std::optional<double> Sample(std::string_view prometheus_text, std::string_view series);

// Opens `n` keep-alive connections, each served one `GET /healthz` (a failure is recorded if
// not 200), and holds them open.
std::vector<std::unique_ptr<HttpConnection>> HoldConnections(const AnteroomProcess& server, int n);

}  // namespace anteroom::testing
