#include "draw/draw.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace anteroom::draw
