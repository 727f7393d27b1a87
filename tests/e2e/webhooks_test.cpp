// Webhooks (SPEC §5) in embedded mode, against a real HTTP receiver in the test: each event
// once with a valid signature; a receiver that was down gets everything afterwards; a receiver
// that keeps failing ends up in the dead-letter list, which can be re-driven.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <map>
#include <set>
#include <vector>
#include <string>

#include "support/anteroom_process.hpp"
#include "support/webhook_receiver.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;
constexpr const char* kSecret = "hook-secret";

json::object queue_with_hook(const WebhookReceiver& r, json::object cfg) {
  cfg["webhooks"] = json::array{json::object{{"url", r.url()}, {"secret", kSecret}}};
  return cfg;
}

// The receiver listens on 127.0.0.1, a loopback address: servers that POST to it need
// --webhook-allow-private (refused by default, see PrivateAddressesAreRefusedWithoutTheFlag).
constexpr const char* kAllowPrivate = "--webhook-allow-private";

// Exactly once over the whole run, not just until the seventh delivery: after the last event of
// the queue, the check waits until the server has nothing left to send (every event taken in is
// delivered: the job store is empty) and then past one job lease (2 x --webhook-timeout-ms + 1 s
// = 3 s, after which a delivered job that was never completed would be claimed and POSTed
// again): a second queue's session of 4 s serves as the clock, its `expired` webhook arriving
// after that.
TEST(Webhooks, EveryEventOnceWithAValidSignature) {
  WebhookReceiver receiver;
  AnteroomProcess server({kAllowPrivate, "--webhook-timeout-ms", "1000"});
  // Two slots; sessions of 1 s; abandonment after 1 s without a stream or poll.
  server.MustPutQueue("wh", queue_with_hook(receiver, {{"max_active", 2},
                                                       {"admit_per_s", 100},
                                                       {"session_ttl_s", 1},
                                                       {"abandon_after_s", 1}}));
  std::string a = server.MustJoin("wh");  // admitted at once
  std::string b = server.MustJoin("wh");  // admitted at once
  ASSERT_EQ(server.Complete("wh", a).status, 200);  // completed; b will expire
  // c joins while b still holds a slot and a's slot is free: admitted at once, then expires.
  std::string c = server.MustJoin("wh");
  // Now fill the line behind a paused gate so that d waits unseen and is abandoned.
  server.MustPutQueue("wh", {{"paused", true}});
  std::string d = server.MustJoin("wh");

  // admitted a, b, c; completed a; expired b, c; abandoned d.
  ASSERT_TRUE(PollUntil([&] { return receiver.count() >= 7; }, DeadlineIn(kPatience)))
      << receiver.count() << " deliveries";
  // Every session is over, so the queue makes no more events; the server has taken in 7 and
  // delivered 7: nothing is pending.
  auto metric = [&](std::string_view name) {
    return SumMetric(server.Metrics().body, name).value_or(-1);
  };
  ASSERT_TRUE(PollUntil(
      [&] {
        json::value s = server.MustStats("wh");
        return IntAt(s, {"waiting"}) == 0 && IntAt(s, {"active"}) == 0 &&
               metric("anteroom_webhook_events_total") == 7 &&
               metric("anteroom_webhook_deliveries_total") == 7;
      },
      DeadlineIn(kPatience)))
      << json::serialize(server.MustStats("wh")) << "\n" << server.Metrics().body;
  // The clock: a visitor of another queue, admitted now, whose session expires 4 s later.
  server.MustPutQueue("clock", queue_with_hook(receiver, {{"max_active", 1},
                                                          {"admit_per_s", 100},
                                                          {"session_ttl_s", 4}}));
  server.MustJoin("clock");
  auto from_queue = [&](const std::string& q) {
    std::vector<ReceivedHook> out;
    for (auto& h : receiver.received())
      if (Str(json::parse(h.body), "queue") == q) out.push_back(h);
    return out;
  };
  ASSERT_TRUE(PollUntil(
      [&] {
        for (auto& h : from_queue("clock"))
          if (h.event == "expired") return true;
        return false;
      },
      DeadlineIn(kPatience)))
      << "the clock queue's session never expired";

  const std::vector<ReceivedHook> all = from_queue("wh");
  EXPECT_EQ(all.size(), 7u) << "deliveries of the queue's 7 events over the whole run";
  std::map<std::string, int> types, keys;
  for (auto& h : all) {
    ++types[h.event];
    ++keys[h.idempotency_key];
  }
  EXPECT_EQ(types["admitted"], 3);
  EXPECT_EQ(types["completed"], 1);
  EXPECT_EQ(types["expired"], 2);
  EXPECT_EQ(types["abandoned"], 1);

  std::set<std::string> tickets;
  for (auto& h : all) {
    EXPECT_TRUE(ValidSignature(h.signature, kSecret, h.body)) << h.signature << " " << h.body;
    json::value body = json::parse(h.body);
    EXPECT_EQ(json::value_to<std::string>(body.at("id")), h.idempotency_key);
    EXPECT_EQ(json::value_to<std::string>(body.at("type")), h.event);
    EXPECT_EQ(json::value_to<std::string>(body.at("queue")), "wh");
    tickets.insert(json::value_to<std::string>(body.at("ticket")));
  }
  EXPECT_EQ(tickets, (std::set<std::string>{a, b, c, d}));
  EXPECT_EQ(keys.size(), 7u);
  for (auto& [key, n] : keys) EXPECT_EQ(n, 1) << key << " delivered " << n << " times";
  for (auto& [key, n] : receiver.by_key()) EXPECT_EQ(n, 1) << key << " delivered " << n << " times";
  // The server counted the same: nothing failed, nothing is still being retried (the clock
  // queue's admission and expiry are the two more).
  auto metrics = server.Metrics().body;
  EXPECT_EQ(SumMetric(metrics, "anteroom_webhook_deliveries_total"), 9);
  EXPECT_EQ(SumMetric(metrics, "anteroom_webhook_events_total"), 9);
  EXPECT_EQ(SumMetric(metrics, "anteroom_webhook_failed_attempts_total"), 0);
  EXPECT_EQ(receiver.count(), 9u);
}

// A receiver that fails 5 times: the attempts back off exponentially (0.5 s doubling, each wait
// drawn between half and one and a half times that), and no wait exceeds
// --webhook-backoff-max-ms (2 s here) by more than the claim loop's 100 ms round and the
// latency of a loaded machine. Times are the receiver's arrival times. A retry loop without
// backoff fails the lower bounds, one without growth fails them from the third wait on, one
// whose jitter overshoots the maximum fails the upper bounds.
TEST(Webhooks, RetriesBackOffExponentiallyUpToTheMaximum) {
  constexpr long long kMinMs = 500;  // the first backoff (WebhookOptions::backoff_min)
  constexpr long long kMaxMs = 2000;
  constexpr long long kLateMs = 700;
  constexpr int kFailures = 5;
  WebhookReceiver receiver;
  receiver.set_status(500);
  AnteroomProcess server({kAllowPrivate, "--webhook-backoff-max-ms", std::to_string(kMaxMs)});
  server.MustPutQueue("wh", queue_with_hook(receiver, {{"max_active", 10}, {"admit_per_s", 100}}));
  server.MustJoin("wh");  // admitted at once: one event, one job
  ASSERT_TRUE(PollUntil([&] { return receiver.count() >= kFailures; },
                        DeadlineIn(std::chrono::seconds(30))))
      << receiver.count() << " attempts";
  receiver.set_status(200);
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_by_key().size() == 1; },
                        DeadlineIn(std::chrono::seconds(30))));
  std::vector<ReceivedHook> attempts = receiver.received();
  ASSERT_GE(attempts.size(), static_cast<size_t>(kFailures) + 1);
  std::string gaps;
  for (size_t i = 1; i < attempts.size(); ++i)
    gaps += std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               attempts[i].at - attempts[i - 1].at)
                               .count()) +
            " ";
  for (size_t k = 1; k < attempts.size(); ++k) {
    EXPECT_EQ(attempts[k].idempotency_key, attempts[0].idempotency_key);
    long long gap = std::chrono::duration_cast<std::chrono::milliseconds>(attempts[k].at -
                                                                          attempts[k - 1].at)
                        .count();
    long long base = std::min(kMinMs << (k - 1), kMaxMs);
    EXPECT_GE(gap, base / 2 - 5) << "wait before attempt " << k + 1 << " (backoff " << base
                                 << " ms); waits in ms: " << gaps;
    EXPECT_LE(gap, std::min(base * 3 / 2, kMaxMs) + kLateMs)
        << "wait before attempt " << k + 1 << " (backoff " << base << " ms, max " << kMaxMs
        << " ms); waits in ms: " << gaps;
  }
  auto metrics = server.Metrics().body;
  EXPECT_EQ(SumMetric(metrics, "anteroom_webhook_failed_attempts_total"),
            static_cast<double>(attempts.size() - 1));
  EXPECT_EQ(SumMetric(metrics, "anteroom_webhook_deliveries_total"), 1);
}

TEST(Webhooks, AReceiverDownFor20SecondsGetsEveryEventAfterwardsAndNoDuplicates) {
  WebhookReceiver receiver;
  AnteroomProcess server({kAllowPrivate, "--webhook-backoff-max-ms", "2000"});
  server.MustPutQueue("wh", queue_with_hook(receiver, {{"max_active", 1000}, {"admit_per_s", 1000}}));
  receiver.down();
  auto down_since = Clock::now();
  for (int i = 0; i < 10; ++i) server.MustJoin("wh");  // 10 admissions while it is down
  // The server keeps trying (and failing) while the receiver is away.
  ASSERT_TRUE(PollUntil(
      [&] {
        return SumMetric(server.Metrics().body, "anteroom_webhook_failed_attempts_total").value_or(0) >= 20;
      },
      DeadlineIn(std::chrono::seconds(30))));
  EXPECT_EQ(receiver.count(), 0u);
  // Down for 20 s in all, then back.
  ASSERT_FALSE(PollUntil([&] { return receiver.count() > 0; }, down_since + std::chrono::seconds(20),
                         std::chrono::milliseconds(100)));
  receiver.up();
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_by_key().size() == 10; },
                        DeadlineIn(std::chrono::seconds(15))))
      << receiver.accepted_by_key().size() << " of 10 events";
  for (auto& [key, n] : receiver.by_key()) EXPECT_EQ(n, 1) << key << " delivered " << n << " times";
  EXPECT_TRUE(server.Admin("GET", "/v1/queues/wh/webhooks/dead").Json().at("dead").as_array().empty());
}

TEST(Webhooks, AReceiverThatKeepsFailingEndsInTheDeadLetterListAndCanBeRedriven) {
  WebhookReceiver receiver;
  receiver.set_status(500);
  AnteroomProcess server(
      {kAllowPrivate, "--webhook-retry-window-s", "2", "--webhook-backoff-max-ms", "300"});
  server.MustPutQueue("wh", queue_with_hook(receiver, {{"max_active", 10}, {"admit_per_s", 100}}));
  std::string t = server.MustJoin("wh");

  json::array dead;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = server.Admin("GET", "/v1/queues/wh/webhooks/dead");
        if (r.status != 200) return false;
        dead = r.Json().at("dead").as_array();
        return !dead.empty();
      },
      DeadlineIn(std::chrono::seconds(15)), std::chrono::milliseconds(100)));
  ASSERT_EQ(dead.size(), 1u);
  const auto& job = dead[0].as_object();
  EXPECT_EQ(json::value_to<std::string>(job.at("type")), "admitted");
  EXPECT_EQ(json::value_to<std::string>(job.at("last_error")), "HTTP 500");
  EXPECT_GE(job.at("attempts").to_number<int64_t>(), 2);
  EXPECT_EQ(json::value_to<std::string>(job.at("body").at("ticket")), t);
  size_t attempts = receiver.count();
  EXPECT_GE(attempts, 2u);
  EXPECT_TRUE(receiver.accepted_by_key().empty());
  EXPECT_EQ(SumMetric(server.Metrics().body, "anteroom_webhook_dead_total"), 1);
  // Without the admin token the list is not shown.
  EXPECT_EQ(server.Request("GET", "/v1/queues/wh/webhooks/dead").status, 401);

  // The receiver is fixed; the operator re-drives: delivered once more, and the list empties.
  receiver.set_status(200);
  auto redrive = server.Admin("POST", "/v1/queues/wh/webhooks/dead/redrive");
  ASSERT_EQ(redrive.status, 200) << redrive;
  EXPECT_EQ(redrive.Json().at("redriven").to_number<int64_t>(), 1);
  ASSERT_TRUE(PollUntil([&] { return receiver.accepted_by_key().size() == 1; }, DeadlineIn(kPatience)));
  EXPECT_TRUE(server.Admin("GET", "/v1/queues/wh/webhooks/dead").Json().at("dead").as_array().empty());
}

TEST(Webhooks, InvalidWebhookConfigIsRefused) {
  AnteroomProcess server;
  auto bad = [&](json::value hooks) {
    return server.PutQueue("wh", {{"webhooks", hooks}}).status;
  };
  EXPECT_EQ(bad(json::array{"ftp://x/y"}), 400);
  EXPECT_EQ(bad(json::array{json::object{{"url", "http://x/y"}, {"secret", 5}}}), 400);
  EXPECT_EQ(bad(json::array{json::object{{"url", "http://x/y"}, {"extra", "z"}}}), 400);
  EXPECT_EQ(bad("http://x/y"), 400);
  json::array nine;
  for (int i = 0; i < 9; ++i) nine.push_back(json::string("http://x/" + std::to_string(i)));
  EXPECT_EQ(bad(nine), 400);
  EXPECT_EQ(server.GetQueue("wh").status, 404);
  // Secrets are write-only.
  ASSERT_EQ(server.PutQueue("wh", {{"webhooks", json::array{json::object{{"url", "http://x/y"}, {"secret", "s"}}}}}).status, 201);
  auto q = server.GetQueue("wh");
  EXPECT_EQ(q.body.find("\"s\""), std::string::npos) << q;
  EXPECT_EQ(q.Json().at("config").at("webhooks").at(0).at("signed"), true);
}

// Webhook URLs naming loopback, link-local (cloud metadata), private, unspecified or multicast
// addresses, or localhost, are refused at PUT with a message naming the flag that allows them;
// with the flag the same URLs are taken.
TEST(Webhooks, PrivateAddressesAreRefusedWithoutTheFlag) {
  AnteroomProcess server;
  const std::vector<std::string> refused{
      "http://127.0.0.1:9/hook",     "http://169.254.169.254/latest/meta-data",
      "http://10.0.0.1/",            "http://[::1]:8080/",
      "http://192.168.1.1/",         "http://172.16.0.1/",
      "http://0.0.0.0/",             "https://[fe80::1]/",
      "http://[fc00::1]/",           "http://224.0.0.1/",
      "http://[::ffff:127.0.0.1]/",  "http://localhost:8080/",
      "http://127.1/",               "http://2130706433/"};
  for (const auto& url : refused) {
    HttpResponse r = server.PutQueue("wh", {{"webhooks", json::array{json::string(url)}}});
    EXPECT_EQ(r.status, 400) << url << ": " << r;
    EXPECT_EQ(r.ErrorCode(), "bad_request") << url << ": " << r;
    EXPECT_NE(r.body.find("--webhook-allow-private"), std::string::npos) << url << ": " << r;
  }
  EXPECT_EQ(server.GetQueue("wh").status, 404);
  // Public addresses and host names (checked when resolved, at send time) are taken.
  HttpResponse ok = server.PutQueue(
      "wh", {{"webhooks", json::array{"http://93.184.215.14/h", "https://hooks.example/h"}}});
  EXPECT_EQ(ok.status, 201) << ok;

  AnteroomProcess allowed({kAllowPrivate});
  for (const auto& url : refused) {
    HttpResponse r = allowed.PutQueue("wh", {{"webhooks", json::array{json::string(url)}}});
    EXPECT_TRUE(r.status == 200 || r.status == 201) << url << ": " << r;
  }
}

}  // namespace
}  // namespace anteroom::testing
