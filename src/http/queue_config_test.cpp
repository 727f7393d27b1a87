// The strict parse of a PUT /v1/queues/{q} body, for the on-sale fields (SPEC §7): schedule
// times as integers or null, the four modes, the operator's message; every refusal is a 400
// that names the field.
#include "http/queue_config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace anteroom::http {
namespace {

// The refusal of `body`, or a failure if it was accepted.
Error Refusal(const std::string& body) {
  auto p = parse_patch(body);
  EXPECT_FALSE(p) << body << " was accepted";
  return p ? Error{Errc::internal, "accepted"} : p.error();
}

TEST(QueueConfigParse, ScheduleTimesAreIntegersAndNullUnsets) {
  auto p = parse_patch(R"({"prequeue_at":1767225000,"opens_at":1767225600,"closes_at":null})");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_TRUE(p->prequeue_at.has_value());
  EXPECT_EQ(*p->prequeue_at, std::optional<int64_t>(1767225000));
  ASSERT_TRUE(p->opens_at.has_value());
  EXPECT_EQ(*p->opens_at, std::optional<int64_t>(1767225600));
  // Given as null: present (the field is touched) and empty (unset).
  ASSERT_TRUE(p->closes_at.has_value());
  EXPECT_FALSE(p->closes_at->has_value());
  EXPECT_TRUE(p->touches_schedule());

  // Absent fields stay absent: a patch of other fields touches no schedule.
  auto q = parse_patch(R"({"max_active":5})");
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->prequeue_at || q->opens_at || q->closes_at || q->mode || q->message);
  EXPECT_FALSE(q->touches_schedule());

  // The bounds are inclusive.
  EXPECT_TRUE(parse_patch(R"({"opens_at":946684800})"));
  EXPECT_TRUE(parse_patch(R"({"opens_at":4102444800})"));
}

TEST(QueueConfigParse, BadScheduleTimesNameTheField) {
  for (const char* field : {"prequeue_at", "opens_at", "closes_at"}) {
    std::string f = field;
    for (std::string v : {"\"1767225600\"", "1767225600.5", "1.7e9", "true", "[]", "{}"}) {
      Error e = Refusal("{\"" + f + "\":" + v + "}");
      EXPECT_EQ(e.code, Errc::bad_request) << f << "=" << v;
      EXPECT_NE(e.message.find(f), std::string::npos) << e.message;
      EXPECT_NE(e.message.find("integer"), std::string::npos) << e.message;
    }
    for (std::string v : {"946684799", "4102444801", "-1", "0", "18446744073709551615"}) {
      Error e = Refusal("{\"" + f + "\":" + v + "}");
      EXPECT_EQ(e.code, Errc::bad_request) << f << "=" << v;
      EXPECT_NE(e.message.find(f), std::string::npos) << e.message;
      EXPECT_NE(e.message.find("946684800"), std::string::npos) << e.message;
    }
  }
}

TEST(QueueConfigParse, ModeIsOneOfFourStrings) {
  for (auto [text, mode] : {std::pair{"fifo", Mode::fifo}, std::pair{"random", Mode::random},
                            std::pair{"passthrough", Mode::passthrough},
                            std::pair{"reject", Mode::reject}}) {
    auto p = parse_patch(std::string(R"({"mode":")") + text + "\"}");
    ASSERT_TRUE(p) << text;
    ASSERT_TRUE(p->mode.has_value());
    EXPECT_EQ(*p->mode, mode) << text;
  }
  for (std::string v : {"\"FIFO\"", "\"lottery\"", "\"\"", "\"fifo \"", "1", "null", "true"}) {
    Error e = Refusal("{\"mode\":" + v + "}");
    EXPECT_EQ(e.code, Errc::bad_request) << v;
    EXPECT_NE(e.message.find("mode"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("passthrough"), std::string::npos) << e.message;
  }
}

TEST(QueueConfigParse, MessageIsCheckedText) {
  auto p = parse_patch(R"({"message":"Sale starts at 10:00.\nBe patient \u2014 thank you"})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p->message, "Sale starts at 10:00.\nBe patient \xe2\x80\x94 thank you");
  auto empty = parse_patch(R"({"message":""})");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty->message, "");  // "" clears the message

  // 500 characters (code points, not bytes) is the limit.
  std::string five_hundred;
  for (int i = 0; i < 500; ++i) five_hundred += "\xc3\xa9";  // é: 2 bytes
  EXPECT_TRUE(parse_patch("{\"message\":\"" + five_hundred + "\"}"));
  Error long_one = Refusal("{\"message\":\"" + five_hundred + "x\"}");
  EXPECT_EQ(long_one.code, Errc::bad_request);
  EXPECT_NE(long_one.message.find("message"), std::string::npos) << long_one.message;

  for (std::string v : {R"("a\u0000b")", R"("tab\there")", R"("\r\n")", R"("\u007f")", "1",
                        "null", "[\"x\"]"}) {
    Error e = Refusal("{\"message\":" + v + "}");
    EXPECT_EQ(e.code, Errc::bad_request) << v;
    EXPECT_NE(e.message.find("message"), std::string::npos) << e.message;
  }
  // Invalid UTF-8 inside a JSON string is not JSON (Boost.JSON refuses it) or not a message.
  auto bad_utf8 = parse_patch("{\"message\":\"\xff\xfe\"}");
  EXPECT_FALSE(bad_utf8);
}

TEST(QueueConfigParse, OnSaleFieldsTogetherWithTheOthers) {
  auto p = parse_patch(
      R"({"admit_per_s":50,"max_active":100,"prequeue_at":null,"opens_at":1767225600,)"
      R"("closes_at":1767229200,"mode":"random","message":"Good luck"})");
  ASSERT_TRUE(p) << p.error().message;
  QueueConfig c;
  c.prequeue_at = 1767220000;
  p->apply_to(c);
  EXPECT_FALSE(c.prequeue_at.has_value());  // null unset it
  EXPECT_EQ(c.opens_at, std::optional<int64_t>(1767225600));
  EXPECT_EQ(c.closes_at, std::optional<int64_t>(1767229200));
  EXPECT_EQ(c.mode, Mode::random);
  EXPECT_EQ(c.message, "Good luck");
  EXPECT_EQ(c.max_active, 100);
}

}  // namespace
}  // namespace anteroom::http
