#include "store/ticket_table.hpp"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace anteroom {
namespace {

struct Rec {
  IdKey id;
  int value = 0;
};

IdKey Key(std::mt19937_64& rng) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  IdKey k;
  for (char& c : k.c) c = kAlphabet[rng() % 64];
  return k;
}

// Random adds, finds and erases against std::unordered_map, with enough churn to exercise
// growth, wrap-around probe runs and backward-shift erases.
TEST(TicketTable, AgreesWithAReferenceMapUnderChurn) {
  std::mt19937_64 rng(7);
  TicketTable<Rec> table;
  std::unordered_map<std::string, int> ref;
  std::vector<IdKey> keys;
  for (int step = 0; step < 400'000; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (op < 5 || keys.empty()) {
      IdKey k = Key(rng);
      Rec& r = table.add(k);
      ASSERT_EQ(r.id, k);
      r.value = step;
      ref[k.str()] = step;
      keys.push_back(k);
    } else if (op < 8) {
      size_t i = rng() % keys.size();
      table.erase(keys[i]);
      ref.erase(keys[i].str());
      keys[i] = keys.back();
      keys.pop_back();
    } else {
      IdKey k = rng() % 2 ? keys[rng() % keys.size()] : Key(rng);
      Rec* r = table.find(k);
      auto it = ref.find(k.str());
      ASSERT_EQ(r != nullptr, it != ref.end());
      if (r) ASSERT_EQ(r->value, it->second);
    }
    ASSERT_EQ(table.size(), ref.size());
  }
  for (auto& [id, value] : ref) {
    Rec* r = table.find(*IdKey::of(id));
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->value, value);
  }
}

TEST(TicketTable, AddingAnExistingKeyReturnsItsRecord) {
  TicketTable<Rec> table;
  IdKey k = *IdKey::of("abcdefghijklmnopqrstuv");
  table.add(k).value = 5;
  EXPECT_EQ(table.add(k).value, 5);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(IdKey::of("short").has_value());
}

}  // namespace
}  // namespace anteroom
