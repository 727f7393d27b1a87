// Graceful shutdown with a request in the middle of being handled: it needs a store that takes
// its time, so the store is a real redis-server that the test freezes (SIGSTOP) and thaws.
#include <gtest/gtest.h>
#include <signal.h>

#include <optional>

#include "support/anteroom_process.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {
namespace {

using namespace std::chrono_literals;

// Thaws a frozen redis-server when the test ends, however it ends.
struct Frozen {
  explicit Frozen(pid_t pid) : pid(pid) { ::kill(pid, SIGSTOP); }
  ~Frozen() { Thaw(); }
  void Thaw() { ::kill(pid, SIGCONT); }
  pid_t pid;
};

// A join read whole before SIGTERM but still waiting on the store when it arrives is not cut
// off: it finishes, is answered with `Connection: close`, and then the process exits 0, well
// within the grace.
TEST(ShutdownRedis, SigtermLetsARequestBeingHandledFinishWithConnectionClose) {
  RedisServer redis;
  constexpr auto kGrace = 30s;
  AnteroomProcess server(
      {"--redis", redis.url(), "--shutdown-grace-s", std::to_string(kGrace.count())});
  server.MustPutQueue("line", {{"max_active", 0}});

  HttpConnection joiner(server.port());
  Frozen frozen(redis.pid());
  joiner.WriteRaw("POST /v1/queues/line/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  // A clock: /healthz needs no store, and is answered after the server read the join (one io
  // thread, sockets served in the order they became readable), so the join now waits on Redis.
  ASSERT_EQ(server.Request("GET", "/healthz").status, 200);

  server.process().Signal(SIGTERM);
  // The server has run its stop once it no longer accepts connections.
  ASSERT_TRUE(PollUntil(
      [&] {
        try {
          HttpConnection probe(server.port(), DeadlineIn(1s));
          return false;
        } catch (const std::exception&) {
          return true;
        }
      },
      DeadlineIn(kPatience)))
      << "still accepting connections after SIGTERM";
  frozen.Thaw();

  std::optional<HttpResponse> r = joiner.ReadResponse(DeadlineIn(kPatience));
  ASSERT_TRUE(r) << "the join in progress at SIGTERM was closed without an answer";
  EXPECT_EQ(r->status, 201) << *r;
  EXPECT_EQ(r->Header("Connection"), "close") << *r;
  EXPECT_TRUE(joiner.WaitClosed(DeadlineIn(kPatience))) << "left open after its last answer";

  auto status = server.process().WaitExit(DeadlineIn(kGrace / 3));
  ASSERT_TRUE(status) << "still running " << (kGrace / 3).count()
                      << " s after its last request was answered (grace " << kGrace.count()
                      << " s)";
  EXPECT_TRUE(status->exited && status->code == 0) << status->Describe();
}

}  // namespace
}  // namespace anteroom::testing
