#include "store/memory_store.hpp"

#include <algorithm>
#include <set>

#include "draw/draw.hpp"
#include "store/conformance/harness.hpp"

namespace anteroom::conformance {
namespace {

class MemoryHarness : public StoreHarness, public EventSink {
 public:
  MemoryHarness() : store_(*this, StoreLimits{.max_queues = 3}) {}
  QueueStore& store() override { return store_; }
  std::vector<Event> events(const std::string& q) override {
    std::vector<Event> out;
    for (auto& e : events_)
      if (e.queue == q) out.push_back(e);
    return out;
  }
  void publish(const Event& e) override { events_.push_back(e); }

 private:
  std::vector<Event> events_;
  MemoryStore store_;
};

std::unique_ptr<StoreHarness> make_memory() { return std::make_unique<MemoryHarness>(); }

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance, ::testing::Values(&make_memory),
                         harness_name);

// MemoryStore sorts the pre-queue at the draw in buckets of the keys' top bits: with thousands
// of entrants (many buckets, some with several entries) the published order is still exactly
// the documented one, and every entrant's place and position follow it.
TEST(MemoryStoreDraw, ThousandsOfEntrantsAreInTheDocumentedOrder) {
  MemoryHarness h;
  constexpr Millis kT0 = 1'700'000'000'000;
  ConfigPatch p;
  p.admit_per_s = 0;
  p.opens_at = kT0 / 1000 + 60;
  ASSERT_TRUE(h.run(h.store().put_queue("q", p, kT0)).ok());
  constexpr int kN = 3000;
  std::vector<std::string> ids;
  for (int i = 0; i < kN; ++i) ids.push_back(h.run(h.store().join("q", "", kT0 + 1))->id);
  for (int i = 0; i < kN; i += 7) ASSERT_TRUE(h.run(h.store().leave("q", ids[i], kT0 + 2)).ok());
  ASSERT_TRUE(h.run(h.store().tick("q", kT0 + 60'000)).ok());
  auto page = h.run(h.store().draw_page("q", 0, 10'000));
  ASSERT_TRUE(page.ok());
  auto seed = draw::from_hex(page->info.seed);
  ASSERT_TRUE(seed);
  std::vector<std::pair<draw::Key, std::string>> want;
  for (int i = 0; i < kN; ++i)
    if (i % 7 != 0) {
      auto e = draw::entry_id(ids[i]);
      want.emplace_back(draw::key(*seed, e), e);
    }
  std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
    return draw::before(a.first, a.second, b.first, b.second);
  });
  ASSERT_EQ(page->entries.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(page->entries[i], want[i].second) << i;
  for (int i = 1; i < kN; i += 97) {
    if (i % 7 == 0) continue;
    auto t = h.run(h.store().get_ticket("q", ids[i], false, kT0 + 60'001));
    ASSERT_TRUE(t.ok());
    ASSERT_GE(t->place, 1);
    EXPECT_EQ(page->entries[t->place - 1], draw::entry_id(ids[i]));
    EXPECT_EQ(t->position, t->place);
  }
}

}  // namespace
}  // namespace anteroom::conformance

namespace anteroom::conformance {
namespace {

// Entrants of an earlier epoch whose sessions outlive the close (active) have no place in the
// next epoch's draw.
TEST(MemoryStoreDraw, PlacesAreOfTheCurrentEpochOnly) {
  MemoryHarness h;
  constexpr Millis kT0 = 1'700'000'000'000;
  ConfigPatch p;
  p.admit_per_s = 10;
  p.max_active = 10;
  p.opens_at = kT0 / 1000 + 60;
  ASSERT_TRUE(h.run(h.store().put_queue("q", p, kT0)).ok());
  auto a = h.run(h.store().join("q", "", kT0 + 1));
  auto b = h.run(h.store().join("q", "", kT0 + 2));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(h.run(h.store().tick("q", kT0 + 60'000)).ok());
  auto old = h.run(h.store().places("q", {a->id, b->id})).value();
  EXPECT_EQ(std::set<int64_t>(old.begin(), old.end()), (std::set<int64_t>{1, 2}));
  EXPECT_EQ(h.run(h.store().get_ticket("q", a->id, false, kT0 + 60'001))->state,
            TicketState::active);
  ASSERT_TRUE(h.run(h.store().close_queue("q", kT0 + 61'000)).ok());
  ConfigPatch again;
  again.opens_at = kT0 / 1000 + 120;
  auto re = h.run(h.store().put_queue("q", again, kT0 + 62'000));
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(re->draw.state, DrawState::prequeue);
  auto c = h.run(h.store().join("q", "", kT0 + 63'000));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(h.run(h.store().tick("q", kT0 + 120'000)).ok());
  EXPECT_EQ(h.run(h.store().places("q", {a->id, b->id, c->id})).value(),
            (std::vector<int64_t>{0, 0, 1}));
}

}  // namespace
}  // namespace anteroom::conformance

namespace anteroom::conformance {
namespace {

// The used-challenge marks are bounded (StoreLimits::pow_marks, across queues): full, a join
// needing a new mark is refused over_capacity (nothing consumed); marks go once their challenge
// expired, and then make room again.
TEST(MemoryStorePow, UsedMarksAreBoundedAndDroppedAtExpiry) {
  struct Sink : EventSink {
    void publish(const Event&) override {}
  } sink;
  MemoryStore store(sink, StoreLimits{.pow_marks = 3});
  boost::asio::io_context io;
  auto run = [&](auto a) {
    auto fut = boost::asio::co_spawn(io, std::move(a), boost::asio::use_future);
    io.restart();
    io.run();
    return fut.get();
  };
  constexpr Millis kT0 = 1'700'000'000'000;
  ConfigPatch p;
  p.admit_per_s = 0;
  p.pow = PowConfig{.bits = 4, .adaptive = false};
  ASSERT_TRUE(run(store.put_queue("a", p, kT0)).ok());
  ASSERT_TRUE(run(store.put_queue("b", p, kT0)).ok());
  auto join = [&](const std::string& q, int n, Millis expires, Millis now) {
    JoinRequest r;
    r.pow.verdict = PowVerdict::valid;
    r.pow.bits = 4;
    r.pow.id = "id" + std::to_string(n);
    r.pow.id.resize(22, '_');  // (a challenge id: 22 characters of base64url)
    r.pow.expires_ms = expires;
    return run(store.join(q, r, now));
  };
  ASSERT_TRUE(join("a", 1, kT0 + 10'000, kT0).ok());
  ASSERT_TRUE(join("b", 2, kT0 + 20'500, kT0).ok());
  ASSERT_TRUE(join("a", 3, kT0 + 60'000, kT0).ok());
  auto full = join("b", 4, kT0 + 60'000, kT0 + 1);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::over_capacity);
  EXPECT_EQ(join("a", 1, kT0 + 10'000, kT0 + 1).error().code, Errc::pow_used);  // (still marked)
  EXPECT_EQ(run(store.get_queue("b"))->stats.waiting, 1);
  // Challenge 1 expired (at kT0 + 10 s): its mark went, a new one fits.
  ASSERT_TRUE(join("b", 4, kT0 + 60'000, kT0 + 10'000).ok());
  EXPECT_EQ(join("b", 5, kT0 + 60'000, kT0 + 10'001).error().code, Errc::over_capacity);
  // Challenge 2's mark lasts until its expiry (rounded up to the second), never less.
  EXPECT_EQ(join("a", 2, kT0 + 20'500, kT0 + 20'499).error().code, Errc::pow_used);
  ASSERT_TRUE(join("b", 5, kT0 + 60'000, kT0 + 21'000).ok());
}

}  // namespace
}  // namespace anteroom::conformance
