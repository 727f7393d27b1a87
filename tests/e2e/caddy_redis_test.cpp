// The shipped examples/caddy/Caddyfile in front of two anteroom processes sharing one
// redis-server (docs/proxy.md, "Caddy"): a visitor joins, waits and is admitted through Caddy
// whichever process serves each request: after a `kill -9` of the process holding its event
// stream, the stream reconnects through Caddy to the other, the admission arrives there, and
// every page view through the gate is served by the live process.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/caddy.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {
namespace {

std::vector<std::string> Node(const RedisServer& redis, const std::string& id) {
  // Caddy connects from 127.0.0.1 and writes the visitor's address into X-Forwarded-For.
  return {"--redis", redis.url(), "--node-id", id, "--trusted-proxies", "127.0.0.1/32"};
}

void ExpectServedAs(const HttpResponse& r, const std::string& ticket, const std::string& what) {
  EXPECT_EQ(r.status, 200) << what << ": " << r;
  EXPECT_EQ(r.body, std::string(kEchoSiteBody) + "; ticket=" + ticket + "; queue=shop")
      << what << ": " << r;
}

TEST(CaddyRedis, ADeadProcessIsSkippedAndTheGateStillHolds) {
  RedisServer redis;
  AnteroomProcess a(Node(redis, "a"));
  AnteroomProcess b(Node(redis, "b"));
  EchoSite site;
  ExampleCaddy front({a.port(), b.port()}, site.port());
  a.MustPutQueue("shop", {{"max_active", 0}, {"admit_per_s", 100}, {"target_url", "/shop/"}});

  HttpResponse join = front.Join("shop");
  ASSERT_EQ(join.status, 201) << join << "\n" << front.Log();
  std::string ticket = Str(join.Json(), "ticket");
  ASSERT_FALSE(ticket.empty()) << join;
  auto stream =
      std::make_unique<SseClient>(front.port(), AnteroomProcess::EventsPath("shop", ticket));
  ASSERT_EQ(stream->status(), 200) << stream->error_body() << "\n" << front.Log();
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();

  // kill -9 the process holding the waiting visitor's stream: Caddy ends the stream, and the
  // visitor reconnects through Caddy to the other process, where it is still first in line.
  auto streams = [](const AnteroomProcess& p) {
    return Sample(p.Metrics().body, "anteroom_sse_streams").value_or(-1);
  };
  ASSERT_EQ(streams(a) + streams(b), 1) << "one visitor stream, on one of the two";
  AnteroomProcess& holder = streams(a) == 1 ? a : b;
  AnteroomProcess& survivor = &holder == &a ? b : a;
  holder.process().Kill();
  EXPECT_TRUE(stream->WaitClosed()) << "Caddy kept a stream whose process died: " << stream->raw();
  stream = std::make_unique<SseClient>(front.port(), AnteroomProcess::EventsPath("shop", ticket));
  ASSERT_EQ(stream->status(), 200) << stream->error_body() << "\n" << front.Log();
  ASSERT_TRUE(WaitForPosition(*stream, 1)) << stream->raw();
  EXPECT_EQ(streams(survivor), 1) << "the reconnected stream is on the live process";

  // Doors open: the admission reaches the visitor through Caddy.
  survivor.MustPutQueue("shop",
                        {{"max_active", 1}, {"admit_per_s", 100}, {"target_url", "/shop/"}});
  auto admitted = stream->WaitFor("admitted");
  ASSERT_TRUE(admitted) << stream->raw() << "\n" << front.Log();
  std::string token = Str(admitted->Json(), "token");
  ASSERT_FALSE(token.empty()) << admitted->Describe();

  // The gate, with one of its two upstreams dead: any request may be sent to it first (a
  // kept-alive connection, or a fresh one refused, until it is marked down); Caddy must skip it.
  for (int i = 0; i < 6; ++i) {
    ExpectServedAs(front.Shop(token), ticket, "view " + std::to_string(i + 1) + " after kill -9");
  }
  HttpResponse flipped =
      front.Shop(token.substr(0, token.size() - 1) + (token.back() == 'A' ? 'B' : 'A'));
  EXPECT_EQ(flipped.status, 302) << "a tampered token after the kill: " << flipped;
  EXPECT_EQ(flipped.Header("Location"), "/q/shop") << flipped;
  HttpResponse t = front.Get(AnteroomProcess::TicketPath("shop", ticket));
  EXPECT_EQ(t.status, 200) << t << "\n" << front.Log();
  EXPECT_EQ(Str(t.Json(), "status"), "active") << t;
}

}  // namespace
}  // namespace anteroom::testing
