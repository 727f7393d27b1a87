#include "core/event_codec.hpp"

#include <gtest/gtest.h>

namespace anteroom {
namespace {

Event admitted() {
  Event e;
  e.queue = "sale-1";
  e.seq = 7;
  e.type = EventType::admitted;
  e.ticket = "AbCdEfGhIjKlMnOpQrSt-_";
  e.order = 3;
  e.at_ms = 1'700'000'000'000;
  e.expires_ms = 1'700'000'600'000;
  return e;
}

// The layout the header documents, byte for byte (lua/lib.lua writes the same bytes).
TEST(EventCodec, EncodesTheDocumentedLayout) {
  EXPECT_EQ(encode_event(admitted()),
            R"({"queue":"sale-1","seq":7,"type":"admitted","ticket":"AbCdEfGhIjKlMnOpQrSt-_",)"
            R"("order":3,"at":1700000000000,"exp":1700000600000})");
  Event closed;
  closed.queue = "q";
  closed.seq = 1;
  closed.type = EventType::closed;
  EXPECT_EQ(encode_event(closed),
            R"({"queue":"q","seq":1,"type":"closed","ticket":"","order":0,"at":0,"exp":0})");
}

TEST(EventCodec, DecodeInvertsEncodeForEveryType) {
  for (int t = 0; t <= static_cast<int>(EventType::closed); ++t) {
    Event e = admitted();
    e.type = static_cast<EventType>(t);
    auto d = decode_event(encode_event(e));
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->queue, e.queue);
    EXPECT_EQ(d->seq, e.seq);
    EXPECT_EQ(d->type, e.type);
    EXPECT_EQ(d->ticket, e.ticket);
    EXPECT_EQ(d->order, e.order);
    EXPECT_EQ(d->at_ms, e.at_ms);
    EXPECT_EQ(d->expires_ms, e.expires_ms);
  }
}

TEST(EventCodec, RejectsAnythingElse) {
  std::string good = encode_event(admitted());
  ASSERT_TRUE(decode_event(good).ok());
  EXPECT_FALSE(decode_event("").ok());
  EXPECT_FALSE(decode_event(good + " ").ok());                    // trailing bytes
  EXPECT_FALSE(decode_event(good.substr(0, good.size() - 1)).ok());  // truncated
  auto with = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return decode_event(s);
  };
  EXPECT_FALSE(with(R"("type":"admitted")", R"("type":"admited")").ok());  // unknown type
  EXPECT_FALSE(with(R"("queue":"sale-1")", R"("queue":"Sale")").ok());     // invalid queue name
  EXPECT_FALSE(with(R"("seq":7)", R"("seq":0)").ok());                     // seqs start at 1
  EXPECT_FALSE(with(R"("seq":7)", R"("seq":x)").ok());
  EXPECT_FALSE(with(R"("order":3)", R"("order":-3)").ok());                // unsigned
  EXPECT_FALSE(with(R"("seq":7,)", R"("seq": 7,)").ok());                  // not the layout
  EXPECT_FALSE(with(R"("ticket":"AbCd)", R"("ticket":"Ab\"Cd)").ok());     // escapes
  EXPECT_FALSE(with(R"("order":3,"at")", R"("at":1,"order":3,"at")").ok());  // key order
}

}  // namespace
}  // namespace anteroom
