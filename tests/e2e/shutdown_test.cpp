// Graceful shutdown on SIGTERM, and refusal of invalid command lines.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <string>
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
