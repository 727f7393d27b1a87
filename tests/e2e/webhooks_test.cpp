// Webhooks (SPEC §5) in embedded mode, against a real HTTP receiver in the test: each event
// once with a valid signature; a receiver that was down gets everything afterwards; a receiver
// that keeps failing ends up in the dead-letter list, which can be re-driven.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
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

// Count of deliveries per event type, from what the receiver accepted.
std::map<std::string, int> by_type(const WebhookReceiver& r) {
  std::map<std::string, int> m;
  for (auto& h : r.received()) ++m[h.event];
  return m;
}

// The receiver listens on 127.0.0.1, a loopback address: servers that POST to it need
// --webhook-allow-private (refused by default, see PrivateAddressesAreRefusedWithoutTheFlag).
constexpr const char* kAllowPrivate = "--webhook-allow-private";

TEST(Webhooks, EveryEventOnceWithAValidSignature) {
  WebhookReceiver receiver;
  AnteroomProcess server({kAllowPrivate});
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
  auto types = by_type(receiver);
  EXPECT_EQ(types["admitted"], 3);
  EXPECT_EQ(types["completed"], 1);
  EXPECT_EQ(types["expired"], 2);
  EXPECT_EQ(types["abandoned"], 1);

  std::set<std::string> tickets;
  for (auto& h : receiver.received()) {
    EXPECT_TRUE(ValidSignature(h.signature, kSecret, h.body)) << h.signature << " " << h.body;
    json::value body = json::parse(h.body);
    EXPECT_EQ(json::value_to<std::string>(body.at("id")), h.idempotency_key);
    EXPECT_EQ(json::value_to<std::string>(body.at("type")), h.event);
    EXPECT_EQ(json::value_to<std::string>(body.at("queue")), "wh");
    tickets.insert(json::value_to<std::string>(body.at("ticket")));
  }
  EXPECT_EQ(tickets, (std::set<std::string>{a, b, c, d}));
  for (auto& [key, n] : receiver.by_key()) EXPECT_EQ(n, 1) << key << " delivered " << n << " times";
  // The server counted the same: nothing failed, nothing is still being retried.
  auto metrics = server.Metrics().body;
  EXPECT_EQ(SumMetric(metrics, "anteroom_webhook_deliveries_total"), 7);
  EXPECT_EQ(SumMetric(metrics, "anteroom_webhook_failed_attempts_total"), 0);
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
