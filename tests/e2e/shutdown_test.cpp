// Graceful shutdown on SIGTERM, and refusal of invalid command lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

constexpr auto kDefaultGrace = std::chrono::seconds(5);

TEST(Shutdown, SigtermTellsEveryStreamToRetryAndExitsZero) {
  AnteroomProcess server({"--max-conns-per-ip", "1000", "--max-connections", "1000"});
  server.MustPutQueue("line", {{"max_active", 0}});
  constexpr int kStreams = 50;
  std::vector<std::unique_ptr<SseClient>> streams;
  for (int i = 0; i < kStreams; ++i) {
    std::string t = server.MustJoin("line");
    ASSERT_FALSE(t.empty());
    streams.push_back(server.Events("line", t));
    ASSERT_EQ(streams.back()->status(), 200) << streams.back()->error_body();
    ASSERT_TRUE(WaitForPosition(*streams.back(), i + 1)) << streams.back()->raw();
  }

  const Deadline grace_end = DeadlineIn(kDefaultGrace + std::chrono::seconds(1));
  server.process().Signal(SIGTERM);
  for (int i = 0; i < kStreams; ++i) {
    SseClient& s = *streams[i];
    std::size_t retries_before = s.retries().size();
    EXPECT_TRUE(s.WaitClosed(grace_end)) << "stream " << i + 1 << " not closed by the server";
    std::vector<int> later(s.retries().begin() + retries_before, s.retries().end());
    EXPECT_NE(std::find(later.begin(), later.end(), 1000), later.end())
        << "stream " << i + 1 << " got no `retry: 1000` before closing; received: " << s.raw();
  }
  auto status = server.process().WaitExit(grace_end);
  ASSERT_TRUE(status) << "still running after the grace period";
  EXPECT_TRUE(status->exited && status->code == 0) << status->Describe();
}

TEST(Shutdown, SigtermWhenIdleExitsZeroAtOnce) {
  AnteroomProcess server;
  auto status = server.Terminate(DeadlineIn(kDefaultGrace));
  ASSERT_TRUE(status) << "still running after the grace period";
  EXPECT_TRUE(status->exited && status->code == 0) << status->Describe();
}

// Idle keep-alive connections and a client stuck half-way through a request must not keep the
// process alive past the grace period.
TEST(Shutdown, SigtermWithIdleAndHalfSentRequestsExitsWithinGrace) {
  AnteroomProcess server({"--shutdown-grace-s", "2"});
  HttpConnection idle(server.port());
  ASSERT_EQ(idle.Request("GET", "/healthz").status, 200);
  HttpConnection half(server.port());
  half.WriteRaw("POST /v1/queues/line/tickets HTTP/1.1\r\nHost: x\r\nContent-Le");
  const auto signalled = Clock::now();
  server.process().Signal(SIGTERM);
  auto status = server.process().WaitExit(signalled + std::chrono::seconds(3));
  ASSERT_TRUE(status) << "still running 3 s after SIGTERM with --shutdown-grace-s 2";
  EXPECT_TRUE(status->exited && status->code == 0) << status->Describe();
  EXPECT_TRUE(idle.WaitClosed(DeadlineIn(std::chrono::seconds(1))));
}

// A request read only in part when SIGTERM arrives — its headers without the final CRLF, or its
// headers and a body shorter than its Content-Length — is answered 503 at once and its
// connection closed; the process exits as soon as that is done, not when the grace runs out.
TEST(Shutdown, SigtermAnswersHalfSentRequests503AndExitsWellWithinGrace) {
  constexpr auto kGrace = std::chrono::seconds(30);
  AnteroomProcess server({"--shutdown-grace-s", std::to_string(kGrace.count())});
  server.MustPutQueue("line", {{"max_active", 0}});
  HttpConnection headers_half(server.port());
  headers_half.WriteRaw(
      "POST /v1/queues/line/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\n");
  HttpConnection body_half(server.port());
  body_half.WriteRaw(
      "POST /v1/queues/line/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 40\r\n\r\n{\"user\": \"half");
  // A clock: this request was sent after both half requests and is answered after the server
  // read what they sent (one io thread, sockets served in the order they became readable).
  HttpConnection idle(server.port());
  ASSERT_EQ(idle.Request("GET", "/healthz").status, 200);

  server.process().Signal(SIGTERM);
  // Far below the grace: the server does not wait for the rest of either request.
  auto status = server.process().WaitExit(DeadlineIn(kGrace / 3));
  ASSERT_TRUE(status) << "still running " << (kGrace / 3).count()
                      << " s after SIGTERM with a half-sent request (grace " << kGrace.count()
                      << " s)";
  EXPECT_TRUE(status->exited && status->code == 0) << status->Describe();

  for (auto [name, conn] : {std::pair{"headers without their end", &headers_half},
                            std::pair{"body shorter than Content-Length", &body_half}}) {
    std::optional<HttpResponse> r = conn->ReadResponse(DeadlineIn(kPatience));
    ASSERT_TRUE(r) << name << ": closed without an answer";
    EXPECT_EQ(r->status, 503) << name << ": " << *r;
    EXPECT_EQ(r->ErrorCode(), "unavailable") << name << ": " << *r;
    EXPECT_EQ(r->Header("Connection"), "close") << name << ": " << *r;
    EXPECT_TRUE(conn->WaitClosed(DeadlineIn(kPatience))) << name << ": left open after the 503";
  }
  EXPECT_FALSE(idle.ReadResponse(DeadlineIn(kPatience)).has_value())
      << "an idle keep-alive connection got an answer to nothing";
}

// Starts the binary with test defaults plus `bad`, expects exit status 2 and a message on
// stderr, and no listening line.
void ExpectRefusedCommandLine(const std::vector<std::string>& bad) {
  Process::Options options;
  options.path = AnteroomBinary();
  options.args = AnteroomArgs(bad);
  Process p(std::move(options));
  auto status = p.WaitExit(DeadlineIn(kPatience));
  std::string what;
  for (const auto& a : bad) what += a + " ";
  ASSERT_TRUE(status) << what << ": still running";
  EXPECT_TRUE(status->exited && status->code == 2) << what << ": " << status->Describe();
  EXPECT_FALSE(p.Stderr().empty()) << what << ": no message on stderr";
  EXPECT_EQ(p.Stdout().find("listening"), std::string::npos) << what << ": " << p.Stdout();
}

TEST(Config, NonsenseListenAddressExitsWith2) {
  ExpectRefusedCommandLine({"--listen", "nonsense"});
}

TEST(Config, NegativeTickExitsWith2) { ExpectRefusedCommandLine({"--tick-ms", "-5"}); }

TEST(Config, NonNumericValueExitsWith2) { ExpectRefusedCommandLine({"--max-body-bytes", "lots"}); }

TEST(Config, UnknownFlagExitsWith2) { ExpectRefusedCommandLine({"--no-such-flag", "1"}); }

}  // namespace
}  // namespace anteroom::testing
