// WebhookDispatcher's lifetime: stop() ends its claim loop and a POST in flight at once (they
// run in an async::TaskGroup), instead of at the loop's next tick or the POST's timeout.
#include "webhooks/dispatcher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "core/encoding.hpp"
#include "store/memory_store.hpp"
#include "webhooks/memory_job_store.hpp"

namespace anteroom {
namespace {

namespace asio = boost::asio;

class NullSink : public EventSink {
 public:
  void publish(const Event&) override {}
};

class Dispatcher : public ::testing::Test {
 protected:
  Dispatcher() : store_(sink_) {}

  template <class T>
  T run(asio::awaitable<T> a) {
    auto fut = asio::co_spawn(io_, std::move(a), asio::use_future);
    io_.restart();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io_.run_one();
    return fut.get();
  }

  // Ticket "t" of queue "q" admitted now: an event the dispatcher makes a webhook job of.
  static Event admitted_now() {
    Event e;
    e.queue = "q";
    e.seq = 1;
    e.type = EventType::admitted;
    e.ticket = "t";
    e.at_ms = wall_ms();
    e.expires_ms = e.at_ms + 60'000;
    return e;
  }

  asio::io_context io_;
  NullSink sink_;
  MemoryStore store_;
  MemoryJobStore jobs_;
  metrics::Registry metrics_;
};

TEST_F(Dispatcher, StopEndsTheClaimLoopAtOnce) {
  WebhookDispatcher d(io_, store_, jobs_, WebhookOptions{}, metrics_);
  d.start();
  io_.poll();
  EXPECT_FALSE(io_.stopped()) << "the claim loop waits for its next round";
  d.stop();
  io_.poll();  // runs only what is ready now: no timer is waited for
  EXPECT_TRUE(io_.stopped()) << "work left after stop(): the loop still waits for its tick";
}

TEST_F(Dispatcher, StopCutsAPostInFlightShort) {
  // A receiver that accepts the connection and never answers.
  asio::ip::tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket peer(io_);
  bool connected = false;
  acceptor.async_accept(peer, [&](boost::system::error_code ec) { connected = !ec; });
  std::string url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/h";
  ConfigPatch p;
  p.webhooks = std::vector<WebhookTarget>{{url, ""}};
  ASSERT_TRUE(run(store_.put_queue("q", p, wall_ms())).ok());

  WebhookOptions opts;
  opts.timeout = std::chrono::seconds(60);  // far beyond the test's patience
  opts.allow_private = true;                // the receiver is on 127.0.0.1
  WebhookDispatcher d(io_, store_, jobs_, opts, metrics_);
  d.start();
  d.publish(admitted_now());
  io_.restart();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!connected && std::chrono::steady_clock::now() < deadline)
    io_.run_one_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(connected) << "the POST never reached the receiver";

  d.stop();
  io_.restart();
  // Returns as soon as nothing is left to do; the 10 s are a deadline, never reached when the
  // POST is cancelled.
  io_.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(io_.stopped()) << "the POST still waits for its answer after stop()";
  // Its job stays leased, to be claimed again after the lease (same Idempotency-Key).
  EXPECT_TRUE(run(jobs_.claim_due(wall_ms(), 10, 1000))->empty());
  EXPECT_EQ(run(jobs_.claim_due(wall_ms() + 2 * 60'000 + 1000, 10, 1000))->size(), 1u);
}

// A webhook whose host resolves only to non-public addresses (here localhost, which the PUT of
// the HTTP API refuses, but a DNS name may resolve there later) is not POSTed to: its job is
// dead-lettered at the first attempt, long before the retry window, with the reason.
TEST_F(Dispatcher, AHostResolvingToAPrivateAddressIsDeadLetteredAtOnce) {
  ConfigPatch p;
  p.webhooks = std::vector<WebhookTarget>{{"http://localhost:1/h", ""}};
  ASSERT_TRUE(run(store_.put_queue("q", p, wall_ms())).ok());
  WebhookOptions opts;  // allow_private is off by default
  WebhookDispatcher d(io_, store_, jobs_, opts, metrics_);
  d.start();
  d.publish(admitted_now());
  std::vector<WebhookJob> dead;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (dead.empty() && std::chrono::steady_clock::now() < deadline) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
    dead = run(jobs_.dead("q")).value();
  }
  ASSERT_EQ(dead.size(), 1u) << "the job was not dead-lettered";
  EXPECT_EQ(dead[0].attempts, 1);
  EXPECT_NE(dead[0].last_error.find("non-public"), std::string::npos) << dead[0].last_error;
  d.stop();
}

// The MemoryStore, with every get_queue counted and answered a turn later (as a store across a
// network answers): what the dispatcher asks of the store when many events arrive at once.
class CountedReads final : public QueueStore {
 public:
  explicit CountedReads(QueueStore& s) : s_(s) {}
  int reads = 0;
  Task<QueueInfo> get_queue(std::string q) override {
    ++reads;
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    co_return co_await s_.get_queue(std::move(q));
  }
  Task<PutQueueResult> put_queue(std::string q, ConfigPatch p, Millis now) override {
    return s_.put_queue(std::move(q), std::move(p), now);
  }
  Task<std::vector<QueueInfo>> list_queues() override { return s_.list_queues(); }
  Task<std::vector<std::string>> queue_names() override { return s_.queue_names(); }
  Task<QueueInfo> close_queue(std::string q, Millis now) override {
    return s_.close_queue(std::move(q), now);
  }
  Task<Ticket> join(std::string q, JoinRequest r, Millis now) override {
    return s_.join(std::move(q), std::move(r), now);
  }
  Task<Ticket> get_ticket(std::string q, std::string id, bool touch, Millis now) override {
    return s_.get_ticket(std::move(q), std::move(id), touch, now);
  }
  Task<Ticket> leave(std::string q, std::string id, Millis now) override {
    return s_.leave(std::move(q), std::move(id), now);
  }
  Task<Ticket> complete(std::string q, std::string id, Millis now) override {
    return s_.complete(std::move(q), std::move(id), now);
  }
  Task<Ok> touch(std::string q, std::vector<std::string> ids, Millis now) override {
    return s_.touch(std::move(q), std::move(ids), now);
  }
  Task<int64_t> tick(std::string q, Millis now) override { return s_.tick(std::move(q), now); }
  Task<QueueSnapshot> snapshot(std::string q) override { return s_.snapshot(std::move(q)); }
  Task<DrawPage> draw_page(std::string q, int64_t after, int64_t limit) override {
    return s_.draw_page(std::move(q), after, limit);
  }
  Task<std::vector<int64_t>> places(std::string q, std::vector<std::string> ids) override {
    return s_.places(std::move(q), std::move(ids));
  }
  Task<std::vector<Invite>> create_invites(std::string q, InviteSpec s, Millis now) override {
    return s_.create_invites(std::move(q), std::move(s), now);
  }
  Task<std::vector<Invite>> list_invites(std::string q, std::string after,
                                         int64_t limit) override {
    return s_.list_invites(std::move(q), std::move(after), limit);
  }
  Task<Invite> revoke_invite(std::string q, std::string code, Millis now) override {
    return s_.revoke_invite(std::move(q), std::move(code), now);
  }
  Task<Ok> ping() override { return s_.ping(); }

 private:
  QueueStore& s_;
};

// Every process takes in every event in Redis-only mode, and a tick admitting 500 hands it 500
// `admitted` events at once: the queue's config is read once for them, not once each (which
// queued 500 store calls ahead of everything else the process asked of Redis).
TEST_F(Dispatcher, ABurstOfEventsReadsTheQueueConfigOnce) {
  ASSERT_TRUE(run(store_.put_queue("q", ConfigPatch{}, wall_ms())).ok());
  CountedReads counted(store_);
  WebhookDispatcher d(io_, counted, jobs_, WebhookOptions{}, metrics_);
  for (uint64_t i = 1; i <= 200; ++i) {
    Event e = admitted_now();
    e.seq = i;
    d.publish(e);
  }
  io_.restart();
  io_.poll();  // no claim loop (not started): runs until every take-in is done
  EXPECT_EQ(counted.reads, 1);
  d.stop();
}

}  // namespace
}  // namespace anteroom
