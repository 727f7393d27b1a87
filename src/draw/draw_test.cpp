#include "draw/draw.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/rules.hpp"

namespace anteroom::draw {
namespace {

TEST(Draw, EntryIdIsTwentyTwoBase64urlCharactersAndDependsOnTheTicket) {
  auto a = entry_id("AAAAAAAAAAAAAAAAAAAAAA");
  auto b = entry_id("AAAAAAAAAAAAAAAAAAAAAB");
  EXPECT_TRUE(rules::valid_ticket_id(a));
  EXPECT_TRUE(rules::valid_ticket_id(b));
  EXPECT_NE(a, b);
  EXPECT_EQ(a, entry_id("AAAAAAAAAAAAAAAAAAAAAA"));
}

TEST(Draw, CommitmentIsTheSha256OfTheSeed) {
  Seed zero{};
  // sha256 of 32 zero bytes
  EXPECT_EQ(commitment(zero), "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
  auto s = new_seed();
  EXPECT_EQ(from_hex(hex(s)), s);
  EXPECT_FALSE(from_hex("00"));
  EXPECT_FALSE(from_hex(std::string(63, '0') + "g"));
}

TEST(Draw, OrderIsByKeyThenByEntryId) {
  Key lo{}, hi{};
  hi[0] = 1;
  EXPECT_TRUE(before(lo, "b", hi, "a"));
  EXPECT_FALSE(before(hi, "a", lo, "b"));
  EXPECT_TRUE(before(lo, "a", lo, "b"));  // equal keys: entry id bytes decide
  EXPECT_FALSE(before(lo, "a", lo, "a"));
  Key top{};
  top[0] = 0xff;  // unsigned comparison: 0xff sorts last
  EXPECT_TRUE(before(hi, "z", top, "a"));
}

// The golden vectors (tools/verify-draw/vectors.json) hold this code and the shipped checker,
// an independent Python implementation of docs/draw.md, to the same answers: a visitor's check
// and the server's draw cannot drift apart without one of the two tests failing.
class GoldenVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = std::string(ANTEROOM_SOURCE_DIR) + "/tools/verify-draw/vectors.json";
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot read " << path;
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    v_ = boost::json::parse(text).as_object();
    ASSERT_EQ(str(v_, "algorithm"), kAlgorithm);
    auto s = from_hex(str(v_, "seed"));
    ASSERT_TRUE(s) << str(v_, "seed");
    seed_ = *s;
  }
  static std::string str(const boost::json::object& o, const char* k) {
    return std::string(o.at(k).as_string());
  }
  static Key key_from(const boost::json::object& o, const char* k) {
    auto b = from_hex(str(o, k));
    EXPECT_TRUE(b) << str(o, k);
    return b.value_or(Key{});
  }

  boost::json::object v_;
  Seed seed_{};
};

TEST_F(GoldenVectors, CommitmentEntryIdsAndKeys) {
  EXPECT_EQ(commitment(seed_), str(v_, "commitment"));
  EXPECT_EQ(hex(seed_), str(v_, "seed"));
  const auto& tickets = v_.at("tickets").as_array();
  ASSERT_EQ(tickets.size(), 8u);
  for (const auto& t : tickets) {
    const auto& o = t.as_object();
    EXPECT_EQ(entry_id(str(o, "ticket")), str(o, "entry_id")) << str(o, "ticket");
    EXPECT_EQ(hex(key(seed_, str(o, "entry_id"))), str(o, "key")) << str(o, "entry_id");
  }
}

TEST_F(GoldenVectors, OrderSortedWithBefore) {
  struct Entry {
    Key k;
    std::string id;
  };
  std::vector<Entry> entries;
  for (const auto& t : v_.at("tickets").as_array()) {
    std::string id = entry_id(str(t.as_object(), "ticket"));
    entries.push_back({key(seed_, id), id});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return before(a.k, a.id, b.k, b.id); });
  std::vector<std::string> got, want;
  for (const auto& e : entries) got.push_back(e.id);
  for (const auto& e : v_.at("order").as_array()) want.emplace_back(e.as_string());
  EXPECT_EQ(got, want);
}

TEST_F(GoldenVectors, Comparisons) {
  // Synthetic keys (real ones never tie): the tie rule, unsigned bytes, the last byte.
  for (const auto& c : v_.at("comparisons").as_array()) {
    const auto& o = c.as_object();
    EXPECT_EQ(before(key_from(o, "key_a"), str(o, "id_a"), key_from(o, "key_b"), str(o, "id_b")),
              o.at("a_before_b").as_bool())
        << str(o, "why");
  }
}

}  // namespace
}  // namespace anteroom::draw
