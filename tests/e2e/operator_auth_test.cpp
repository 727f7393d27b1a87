// Operator endpoints refuse requests without the admin token, and such requests change nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

namespace json = boost::json;

// Credentials that are not the admin token ("" = no Authorization header at all).
const std::vector<std::string> kWrongAuth = {
    "",        "Bearer wrong", "Bearer test-admin-and-more",
    "Bearer ", "test-admin",   "Basic dGVzdC1hZG1pbjo=",
};

// Queue "shop" (max_active 1) with one admitted visitor.
class OperatorAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.MustPutQueue("shop", {{"max_active", 1}, {"admit_per_s", 100}});
    ticket_ = server_.MustJoin("shop");
    ASSERT_FALSE(ticket_.empty());
    auto stream = server_.Events("shop", ticket_);
    auto admitted = stream->WaitFor("admitted");
    ASSERT_TRUE(admitted) << stream->raw();
    token_ = Str(admitted->Json(), "token");
  }

  // Sends the request with each wrong credential and expects 401 `unauthorized` every time.
  void ExpectRefusedForEveryWrongToken(std::string_view method, std::string_view target,
                                       std::string body = {}) {
    for (const std::string& auth : kWrongAuth) {
      Headers headers;
      if (!auth.empty()) headers.emplace_back("Authorization", auth);
      if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
      HttpResponse r = server_.Request(method, target, headers, body);
      EXPECT_EQ(r.status, 401) << method << " " << target << " with '" << auth << "': " << r;
      EXPECT_EQ(r.ErrorCode(), "unauthorized")
          << method << " " << target << " with '" << auth << "': " << r;
    }
  }

  // Nothing an unauthorized request could have changed has changed.
  void ExpectNothingChanged() {
    HttpResponse shop = server_.GetQueue("shop");
    ASSERT_EQ(shop.status, 200) << shop;
    EXPECT_EQ(IntAt(shop.Json(), {"config", "max_active"}), 1) << shop;
    EXPECT_EQ(Bool(shop.Json(), "closed"), false) << shop;
    EXPECT_EQ(server_.GetQueue("intruder").status, 404);
    HttpResponse visitor = server_.GetTicket("shop", ticket_);
    EXPECT_EQ(Str(visitor.Json(), "status"), "active") << visitor;
    EXPECT_EQ(server_.Verify(token_).status, 204);
    HttpResponse join = server_.Join("shop");
    EXPECT_EQ(join.status, 201) << "queue no longer takes joins: " << join;
  }

  AnteroomProcess server_;
  std::string ticket_;
  std::string token_;
};

TEST_F(OperatorAuthTest, PutQueueCreateIsRefused) {
  ExpectRefusedForEveryWrongToken("PUT", "/v1/queues/intruder", R"({"max_active":5})");
  ExpectNothingChanged();
}

TEST_F(OperatorAuthTest, PutQueueUpdateIsRefused) {
  ExpectRefusedForEveryWrongToken("PUT", "/v1/queues/shop", R"({"max_active":5})");
  ExpectNothingChanged();
}

TEST_F(OperatorAuthTest, ListQueuesIsRefused) {
  ExpectRefusedForEveryWrongToken("GET", "/v1/queues");
  HttpResponse ok = server_.Admin("GET", "/v1/queues");
  ASSERT_EQ(ok.status, 200) << ok;
  json::value body = ok.Json();
  const auto* queues = Field(body, "queues");
  ASSERT_TRUE(queues != nullptr && queues->is_array()) << ok;
  EXPECT_EQ(queues->as_array().size(), 1u) << ok;
}

TEST_F(OperatorAuthTest, GetQueueIsRefused) {
  ExpectRefusedForEveryWrongToken("GET", "/v1/queues/shop");
  ExpectNothingChanged();
}

TEST_F(OperatorAuthTest, DeleteQueueIsRefused) {
  ExpectRefusedForEveryWrongToken("DELETE", "/v1/queues/shop");
  ExpectNothingChanged();
}

TEST_F(OperatorAuthTest, CompleteIsRefused) {
  ExpectRefusedForEveryWrongToken("POST",
                                  AnteroomProcess::TicketPath("shop", ticket_) + "/complete");
  ExpectNothingChanged();
}

// The queue description carries every documented field with the documented JSON type.
TEST(Operator, QueueDescriptionHasTheDocumentedShape) {
  AnteroomProcess server;
  HttpResponse created = server.PutQueue("shop", {{"max_active", 7},
                                                  {"admit_per_s", 2.5},
                                                  {"session_ttl_s", 300},
                                                  {"abandon_after_s", 60},
                                                  {"paused", true},
                                                  {"target_url", "https://shop.example/"}});
  EXPECT_EQ(created.status, 201) << created;
  HttpResponse updated = server.PutQueue("shop", {{"paused", false}});
  EXPECT_EQ(updated.status, 200) << updated;
  server.MustJoin("shop");

  HttpResponse r = server.GetQueue("shop");
  ASSERT_EQ(r.status, 200) << r;
  json::value q = r.Json();
  EXPECT_EQ(Str(q, "name"), "shop") << r;
  EXPECT_EQ(Bool(q, "closed"), false) << r;
  EXPECT_GE(Int(q, "seq").value_or(-1), 1) << r;
  const json::value* config = Field(q, "config");
  ASSERT_TRUE(config != nullptr) << r;
  EXPECT_EQ(Int(*config, "max_active"), 7) << r;
  EXPECT_EQ(Num(*config, "admit_per_s"), 2.5) << r;
  EXPECT_EQ(Int(*config, "session_ttl_s"), 300) << r;
  EXPECT_EQ(Int(*config, "abandon_after_s"), 60) << r;
  EXPECT_EQ(Bool(*config, "paused"), false) << "a partial update reset other fields? " << r;
  EXPECT_EQ(Str(*config, "target_url"), "https://shop.example/") << r;
  const json::value* stats = Field(q, "stats");
  ASSERT_TRUE(stats != nullptr) << r;
  for (const char* key : {"waiting", "active", "admitted_total", "abandoned_total", "expired_total",
                          "completed_total", "left_total", "oldest_wait_s"}) {
    EXPECT_TRUE(Int(*stats, key).has_value())
        << "stats." << key << " missing or not an integer: " << r;
  }
  EXPECT_TRUE(Num(*stats, "admit_rate").has_value()) << r;

  HttpResponse list = server.Admin("GET", "/v1/queues");
  ASSERT_EQ(list.status, 200) << list;
  json::value body = list.Json();
  const json::value* queues = Field(body, "queues");
  ASSERT_TRUE(queues != nullptr && queues->is_array() && queues->as_array().size() == 1) << list;
  EXPECT_EQ(Str(queues->as_array()[0], "name"), "shop") << list;
}

}  // namespace
}  // namespace anteroom::testing
