#include "core/rules.hpp"

#include <gtest/gtest.h>

#include <array>

namespace anteroom::rules {
namespace {

TEST(Rules, QueueNames) {
  EXPECT_TRUE(valid_queue_name("concert-2026"));
  EXPECT_TRUE(valid_queue_name("a"));
  EXPECT_TRUE(valid_queue_name(std::string(64, 'a')));
  EXPECT_FALSE(valid_queue_name(std::string(65, 'a')));
  EXPECT_FALSE(valid_queue_name(""));
  EXPECT_FALSE(valid_queue_name("-lead"));
  EXPECT_FALSE(valid_queue_name("Upper"));
  EXPECT_FALSE(valid_queue_name("a/b"));
  EXPECT_FALSE(valid_queue_name("a b"));
}

TEST(Rules, TicketIds) {
  EXPECT_TRUE(valid_ticket_id("AAAAAAAAAAAAAAAAAAAA-_"));
  EXPECT_FALSE(valid_ticket_id("AAAAAAAAAAAAAAAAAAAA="));
  EXPECT_FALSE(valid_ticket_id("short"));
}

TEST(Rules, ConfigValidation) {
  ConfigPatch p;
  p.admit_per_s = -1;
  EXPECT_FALSE(validate(p).ok());
  p.admit_per_s = 5;
  EXPECT_TRUE(validate(p).ok());
  p.target_url = "javascript:alert(1)";
  EXPECT_FALSE(validate(p).ok());
  p.target_url = "//evil.example";
  EXPECT_FALSE(validate(p).ok());
  p.target_url = "/shop";
  EXPECT_TRUE(validate(p).ok());
  p.target_url = "https://shop.example/buy?x=1";
  EXPECT_TRUE(validate(p).ok());
}

TEST(Rules, BucketAdmitsAtRateAndRespectsCapacity) {
  QueueConfig c;
  c.admit_per_s = 10;
  c.max_active = 100;
  Bucket b;
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'000'000), 0);  // starts empty
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'000'500), 5);
  EXPECT_EQ(admission_count(b, c, 5, 1000, 1'001'000), 5);
  // Idle for a minute: at most one second's worth.
  EXPECT_EQ(admission_count(b, c, 10, 1000, 1'061'000), 10);
  // Capacity bounds it.
  EXPECT_EQ(admission_count(b, c, 98, 1000, 1'062'000), 2);
  // Never more than waiting.
  EXPECT_EQ(admission_count(b, c, 0, 3, 1'070'000), 3);
  c.paused = true;
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'080'000), 0);
}

TEST(Rules, FractionalRatesAccumulate) {
  QueueConfig c;
  c.admit_per_s = 0.5;
  Bucket b;
  int64_t total = 0;
  for (Millis t = 1000; t <= 21000; t += 100) total += admission_count(b, c, 0, 1000, t);
  EXPECT_EQ(total, 10);
}

TEST(Rules, EtaUsesObservedRateThenConfigured) {
  QueueConfig c;
  c.admit_per_s = 10;
  EXPECT_EQ(eta_seconds(100, -1, c), 10);
  EXPECT_EQ(eta_seconds(100, 2, c), 50);
  c.paused = true;
  EXPECT_EQ(eta_seconds(100, 2, c), -1);
}

TEST(Rules, RateEstimatorConverges) {
  RateEstimator r;
  EXPECT_LT(r.rate(1000), 0);
  for (Millis t = 1000; t < 11000; t += 100) r.record(t, 2);  // 20/s
  EXPECT_NEAR(r.rate(11000), 20, 2);
  EXPECT_LT(r.rate(11000 + 60000), 0);
}

// ---- The on-sale -------------------------------------------------------------------------------

constexpr int64_t P = 1'800'000'000, O = P + 600, C = O + 3600;  // prequeue_at, opens_at, closes_at

QueueConfig sale(std::optional<int64_t> pre = P, std::optional<int64_t> opens = O,
                 std::optional<int64_t> closes = C) {
  QueueConfig c;
  c.prequeue_at = pre;
  c.opens_at = opens;
  c.closes_at = closes;
  return c;
}

std::string detail(const Error& e, std::string_view name) {
  for (auto& [k, v] : e.details)
    if (k == name) return v;
  return "<absent>";
}

TEST(OnSale, PhaseAtEachBoundary) {
  const QueueConfig c = sale();
  const auto pre = DrawState::prequeue;
  EXPECT_EQ(phase(c, pre, P * 1000 - 1), Phase::before);
  EXPECT_EQ(phase(c, pre, P * 1000), Phase::prequeue);
  EXPECT_EQ(phase(c, pre, O * 1000 - 1), Phase::prequeue);
  EXPECT_EQ(phase(c, pre, O * 1000), Phase::open);  // (the store draws first: draw_due)
  EXPECT_EQ(phase(c, DrawState::drawn, O * 1000), Phase::open);
  EXPECT_EQ(phase(c, DrawState::drawn, C * 1000 - 1), Phase::open);
  EXPECT_EQ(phase(c, DrawState::drawn, C * 1000), Phase::closed);
  EXPECT_EQ(phase(c, pre, C * 1000), Phase::closed);  // closes_at wins over everything
  // Drawn is open whatever the clock says (a process whose clock lags another's).
  EXPECT_EQ(phase(c, DrawState::drawn, O * 1000 - 5000), Phase::open);
  // No prequeue_at: the pre-queue is open from the moment the schedule is set.
  EXPECT_EQ(phase(sale(std::nullopt), pre, 1000), Phase::prequeue);
  // No schedule: open; with closes_at only, closed from it.
  EXPECT_EQ(phase(sale(std::nullopt, std::nullopt, std::nullopt), DrawState::none, 0), Phase::open);
  EXPECT_EQ(phase(sale(std::nullopt, std::nullopt), DrawState::none, C * 1000 - 1), Phase::open);
  EXPECT_EQ(phase(sale(std::nullopt, std::nullopt), DrawState::none, C * 1000), Phase::closed);
}

TEST(OnSale, DrawIsDueFromOpensAtInThePrequeueOnly) {
  const QueueConfig c = sale();
  EXPECT_FALSE(draw_due(c, DrawState::prequeue, O * 1000 - 1));
  EXPECT_TRUE(draw_due(c, DrawState::prequeue, O * 1000));
  EXPECT_TRUE(draw_due(c, DrawState::prequeue, C * 1000 + 1));
  EXPECT_FALSE(draw_due(c, DrawState::drawn, O * 1000));
  EXPECT_FALSE(draw_due(c, DrawState::void_, O * 1000));
  EXPECT_FALSE(draw_due(c, DrawState::none, O * 1000));
  EXPECT_FALSE(draw_due(sale(std::nullopt, std::nullopt), DrawState::prequeue, O * 1000));
}

TEST(OnSale, JoinRuleForEveryPhaseAndMode) {
  const std::array<Mode, 4> modes{Mode::fifo, Mode::random, Mode::passthrough, Mode::reject};
  for (Mode m : modes) {
    SCOPED_TRACE(std::string(to_string(m)));
    const bool rej = m == Mode::reject;
    EXPECT_EQ(join_rule(Phase::closed, m), JoinRule::refuse_closed);
    EXPECT_EQ(join_rule(Phase::before, m),
              rej ? JoinRule::refuse_rejecting : JoinRule::refuse_not_open);
    EXPECT_EQ(join_rule(Phase::prequeue, m),
              rej ? JoinRule::refuse_rejecting : JoinRule::enter_prequeue);
    EXPECT_EQ(join_rule(Phase::open, m), rej ? JoinRule::refuse_rejecting : JoinRule::join_line);
  }
}

TEST(OnSale, RefusalsCarryWhatTheClientNeeds) {
  QueueConfig c = sale();
  c.message = "Back at \"noon\"";
  auto e = join_refusal(JoinRule::refuse_not_open, c, P * 1000 - 1500);
  EXPECT_EQ(e.code, Errc::not_open_yet);
  EXPECT_EQ(detail(e, "prequeue_at"), std::to_string(P));
  EXPECT_EQ(detail(e, "opens_at"), std::to_string(O));
  EXPECT_EQ(detail(e, "closes_at"), std::to_string(C));
  EXPECT_EQ(detail(e, "now"), std::to_string(P - 2));
  e = join_refusal(JoinRule::refuse_not_open, sale(P, O, std::nullopt), P * 1000 - 1);
  EXPECT_EQ(detail(e, "closes_at"), "null");
  e = join_refusal(JoinRule::refuse_rejecting, c, 0);
  EXPECT_EQ(e.code, Errc::joins_refused);
  EXPECT_EQ(detail(e, "queue_message"), "\"Back at \\\"noon\\\"\"");
  e = join_refusal(JoinRule::refuse_closed, c, C * 1000);
  EXPECT_EQ(e.code, Errc::queue_closed);
  EXPECT_EQ(detail(e, "closes_at"), std::to_string(C));
}

TEST(OnSale, ScheduleValidation) {
  EXPECT_TRUE(validate_schedule(sale()).ok());
  EXPECT_TRUE(validate_schedule(sale(std::nullopt, std::nullopt, std::nullopt)).ok());
  EXPECT_TRUE(validate_schedule(sale(std::nullopt, O, std::nullopt)).ok());
  EXPECT_TRUE(validate_schedule(sale(std::nullopt, std::nullopt, C)).ok());
  EXPECT_TRUE(validate_schedule(sale(O, O, C)).ok());  // prequeue_at == opens_at: no pre-queue
  EXPECT_FALSE(validate_schedule(sale(P, std::nullopt, std::nullopt)).ok());  // needs opens_at
  EXPECT_FALSE(validate_schedule(sale(P, std::nullopt, C)).ok());
  EXPECT_FALSE(validate_schedule(sale(O + 1, O, C)).ok());
  EXPECT_FALSE(validate_schedule(sale(P, O, O)).ok());  // opens_at < closes_at
  EXPECT_FALSE(validate_schedule(sale(P, O, O - 1)).ok());
  EXPECT_FALSE(validate_schedule(sale(std::nullopt, O, O)).ok());
  auto e = validate_schedule(sale(P, std::nullopt, std::nullopt));
  EXPECT_EQ(e.error().code, Errc::bad_request);
  EXPECT_NE(e.error().message.find("prequeue_at"), std::string::npos);
}

TEST(OnSale, ScheduleChangeIsLockedAfterTheDrawAndUnderARunningLine) {
  ConfigPatch opens;
  opens.opens_at = O + 60;
  ConfigPatch pre;
  pre.prequeue_at = P + 1;
  ConfigPatch unset;
  unset.opens_at.emplace();
  ConfigPatch other;
  other.closes_at = C + 1;
  other.mode = Mode::random;
  other.message = "hello";
  other.admit_per_s = 3;
  QueueInfo cur;
  cur.config = sale();
  // Pre-queue: opens_at may move, not be removed.
  cur.draw.state = DrawState::prequeue;
  EXPECT_TRUE(check_schedule_change(cur, opens).ok());
  EXPECT_TRUE(check_schedule_change(cur, pre).ok());
  EXPECT_EQ(check_schedule_change(cur, unset).error().code, Errc::schedule_locked);
  EXPECT_TRUE(check_schedule_change(cur, other).ok());
  // Drawn: fixed.
  cur.draw.state = DrawState::drawn;
  EXPECT_EQ(check_schedule_change(cur, opens).error().code, Errc::schedule_locked);
  EXPECT_EQ(check_schedule_change(cur, pre).error().code, Errc::schedule_locked);
  EXPECT_EQ(check_schedule_change(cur, unset).error().code, Errc::schedule_locked);
  EXPECT_TRUE(check_schedule_change(cur, other).ok());
  // Closed: a reopen starts a new epoch, anything goes.
  cur.closed = true;
  EXPECT_TRUE(check_schedule_change(cur, opens).ok());
  EXPECT_TRUE(check_schedule_change(cur, unset).ok());
  // No schedule yet: an empty line may become an on-sale, a running one not.
  cur = QueueInfo{};
  EXPECT_TRUE(check_schedule_change(cur, opens).ok());
  cur.stats.waiting = 1;
  EXPECT_EQ(check_schedule_change(cur, opens).error().code, Errc::schedule_locked);
  EXPECT_TRUE(check_schedule_change(cur, other).ok());
}

TEST(OnSale, AbandonClockStartsAtTheDraw) {
  QueueConfig c = sale();
  c.abandon_after_s = 30;
  const Millis drawn = O * 1000 + 40;
  EXPECT_FALSE(abandon_cutoff(c, DrawState::prequeue, 0, O * 1000 - 1));
  EXPECT_FALSE(abandon_cutoff(c, DrawState::prequeue, 0, C * 1000));
  EXPECT_FALSE(abandon_cutoff(c, DrawState::drawn, drawn, drawn));
  EXPECT_FALSE(abandon_cutoff(c, DrawState::drawn, drawn, drawn + 29'999));
  EXPECT_EQ(abandon_cutoff(c, DrawState::drawn, drawn, drawn + 30'000), drawn);
  EXPECT_EQ(abandon_cutoff(c, DrawState::drawn, drawn, drawn + 90'000), drawn + 60'000);
  // Not an on-sale (or a voided one): the usual rule, the same as abandoned().
  EXPECT_EQ(abandon_cutoff(c, DrawState::none, 0, 100'000), 70'000);
  EXPECT_EQ(abandon_cutoff(c, DrawState::void_, 0, 100'000), 70'000);
  EXPECT_TRUE(abandoned(70'000, c, 100'000));
  EXPECT_FALSE(abandoned(70'001, c, 100'000));
}

TEST(OnSale, PassthroughIgnoresTheRateNotTheCapacity) {
  QueueConfig c;
  c.mode = Mode::passthrough;
  c.admit_per_s = 0;
  c.max_active = 50;
  Bucket b;
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'000'000), 50);
  EXPECT_EQ(admission_count(b, c, 50, 1000, 1'000'000), 0);
  EXPECT_EQ(admission_count(b, c, 45, 1000, 1'000'000), 5);
  EXPECT_EQ(admission_count(b, c, 0, 7, 1'000'000), 7);
  EXPECT_EQ(admission_count(b, c, 0, 0, 1'000'000), 0);
  EXPECT_EQ(admission_count(b, c, 60, 1000, 1'000'000), 0);  // over (max_active lowered)
  c.paused = true;
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'000'000), 0);
  // Back to fifo: the bucket again (it was not drained by passthrough).
  c.paused = false;
  c.mode = Mode::fifo;
  c.admit_per_s = 10;
  EXPECT_EQ(admission_count(b, c, 0, 1000, 1'000'500), 5);
}

TEST(OnSale, LotteryEtaIsTheTenthToNinetiethPercentile) {
  QueueConfig c;
  c.admit_per_s = 10;
  EXPECT_EQ(lottery_eta(1000, -1, c).min_s, 10);  // U[0, 100 s]
  EXPECT_EQ(lottery_eta(1000, -1, c).max_s, 90);
  EXPECT_EQ(lottery_eta(1000, 20, c).min_s, 5);  // the observed rate first
  EXPECT_EQ(lottery_eta(1000, 20, c).max_s, 45);
  EXPECT_EQ(lottery_eta(0, -1, c).min_s, 0);
  EXPECT_EQ(lottery_eta(0, -1, c).max_s, 0);
  EXPECT_EQ(lottery_eta(3, -1, c).min_s, 0);  // 0.03 .. 0.27 s: rounded outward
  EXPECT_EQ(lottery_eta(3, -1, c).max_s, 1);
  c.paused = true;
  EXPECT_EQ(lottery_eta(1000, 20, c).min_s, -1);
  c.paused = false;
  c.max_active = 0;
  EXPECT_EQ(lottery_eta(1000, 20, c).max_s, -1);
  c.max_active = 10;
  c.admit_per_s = 0;
  EXPECT_EQ(lottery_eta(1000, -1, c).min_s, -1);
}

TEST(OnSale, ScheduleTimesAreBounded) {
  for (auto f : {&ConfigPatch::prequeue_at, &ConfigPatch::opens_at, &ConfigPatch::closes_at}) {
    ConfigPatch p;
    p.*f = kMinUnixS;
    EXPECT_TRUE(validate(p).ok());
    p.*f = kMaxUnixS;
    EXPECT_TRUE(validate(p).ok());
    p.*f = kMinUnixS - 1;
    EXPECT_FALSE(validate(p).ok());
    p.*f = kMaxUnixS + 1;
    EXPECT_FALSE(validate(p).ok());
    p.*f = int64_t{-1};
    EXPECT_FALSE(validate(p).ok());
    (p.*f).emplace();  // null: unset
    EXPECT_TRUE(validate(p).ok());
  }
}

TEST(OnSale, MessageIsShortValidUtf8WithoutControlCharacters) {
  auto ok = [](std::string m) {
    ConfigPatch p;
    p.message = std::move(m);
    return validate(p).ok();
  };
  EXPECT_TRUE(ok(""));
  EXPECT_TRUE(ok("Doors at 19:00.\nBring ID."));
  EXPECT_TRUE(ok(std::string(500, 'a')));
  EXPECT_FALSE(ok(std::string(501, 'a')));
  std::string wide;
  for (int i = 0; i < 500; ++i) wide += "\xf0\x9f\x8e\xab";  // 500 code points, 2,000 bytes
  EXPECT_TRUE(ok(wide));
  EXPECT_FALSE(ok(wide + "a"));
  EXPECT_FALSE(ok("tab\there"));
  EXPECT_FALSE(ok("cr\r\n"));
  EXPECT_FALSE(ok(std::string("nul\0", 4)));
  EXPECT_FALSE(ok("del\x7f"));
  EXPECT_FALSE(ok("esc\x1b[31m"));
  EXPECT_FALSE(ok("next line \xc2\x85"));  // C1 controls (U+0080..U+009F) are controls too
  EXPECT_FALSE(ok("\xc2\x9f"));
  EXPECT_TRUE(ok("\xc2\xa0no-break space"));  // U+00A0 is not a control
  EXPECT_FALSE(ok("\xff"));                   // not UTF-8
  EXPECT_FALSE(ok("\xc0\xaf"));               // overlong
  EXPECT_FALSE(ok("\xed\xa0\x80"));           // a surrogate
  EXPECT_FALSE(ok("\xe2\x82"));               // truncated
}


// ---- Bots pay, guests skip (SPEC §8) -------------------------------------------------------

PowConfig pow_cfg(int bits, bool adaptive = true, int max_bits = 26) {
  PowConfig c;
  c.bits = bits;
  c.adaptive = adaptive;
  c.max_bits = max_bits;
  return c;
}

TEST(Pow, RequiredBitsAreTheBasePlusTheMeasuredExtraUpToTheCap) {
  EXPECT_EQ(pow_required_bits(pow_cfg(0), 0), 0);
  EXPECT_EQ(pow_required_bits(pow_cfg(0), 9), 0);  // off stays off, whatever the pressure
  EXPECT_EQ(pow_required_bits(pow_cfg(18), 0), 18);
  EXPECT_EQ(pow_required_bits(pow_cfg(18), 3), 21);
  EXPECT_EQ(pow_required_bits(pow_cfg(18), 8), 26);
  EXPECT_EQ(pow_required_bits(pow_cfg(18), 100), 26);
  EXPECT_EQ(pow_required_bits(pow_cfg(18), -4), 18);  // never below the base
  EXPECT_EQ(pow_required_bits(pow_cfg(18, false), 3), 18);
  EXPECT_EQ(pow_required_bits(pow_cfg(20, true, 20), 5), 20);
  EXPECT_EQ(pow_required_bits(pow_cfg(32, true, 32), 5), 32);
}

PowProof proof_of(PowVerdict v, int bits = 0) {
  PowProof p;
  p.verdict = v;
  p.bits = bits;
  p.id = "AAAAAAAAAAAAAAAAAAAAAA";
  p.expires_ms = 1;
  return p;
}

TEST(Pow, RefusalNamesTheReasonAndTheBitsNeeded) {
  // A queue needing no proof ignores whatever comes.
  for (auto v : {PowVerdict::none, PowVerdict::invalid, PowVerdict::wrong_queue,
                 PowVerdict::expired, PowVerdict::insufficient, PowVerdict::valid})
    EXPECT_FALSE(pow_refusal(0, proof_of(v, 0)).has_value());
  const std::pair<PowVerdict, Errc> cases[] = {{PowVerdict::none, Errc::pow_required},
                                               {PowVerdict::invalid, Errc::pow_invalid},
                                               {PowVerdict::wrong_queue, Errc::pow_wrong_queue},
                                               {PowVerdict::expired, Errc::pow_expired},
                                               {PowVerdict::insufficient, Errc::pow_insufficient}};
  for (auto [v, code] : cases) {
    auto e = pow_refusal(18, proof_of(v, 30));  // (a verdict other than valid: bits ignored)
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code, code);
    EXPECT_FALSE(e->message.empty());
    ASSERT_EQ(e->details.size(), 1u);
    EXPECT_EQ(e->details[0].first, "bits");
    EXPECT_EQ(e->details[0].second, "18");
  }
  // Valid: enough if the challenge asked at least what the queue needs now.
  EXPECT_FALSE(pow_refusal(18, proof_of(PowVerdict::valid, 18)).has_value());
  EXPECT_FALSE(pow_refusal(18, proof_of(PowVerdict::valid, 24)).has_value());
  auto low = pow_refusal(21, proof_of(PowVerdict::valid, 18));
  ASSERT_TRUE(low.has_value());
  EXPECT_EQ(low->code, Errc::pow_insufficient);
  EXPECT_EQ(low->details.at(0).second, "21");
}

TEST(Pow, ConfigEncodingRoundTripsAndMalformedGivesTheDefaults) {
  PowConfig c;
  c.bits = 20;
  c.adaptive = false;
  c.max_bits = 30;
  c.network_share = 1'000'000;
  c.surge_per_s = 250;
  c.window_s = 3600;
  c.ttl_s = 10;
  EXPECT_EQ(encode_pow(c), "20 0 30 1000000 250 3600 10");
  EXPECT_EQ(decode_pow(encode_pow(c)), c);
  EXPECT_EQ(decode_pow(encode_pow(PowConfig{})), PowConfig{});
  PowConfig on = pow_cfg(kDefaultPowBits);
  EXPECT_EQ(decode_pow(encode_pow(on)), on);
  for (std::string bad : {"", "18", "18 1 26 30 0 60", "18 1 26 30 0 60 x", "18  1 26 30 0 60 120",
                          "-18 1 26 30 0 60 120", "18 1 26 30 0 60 120 7", "18 1 26 30 0 60 120 ",
                          "18 1 26 30 0 60 1e3", "18 1 26 30 0 60 1234567890123456789",
                          " 18 1 26 30 0 60 120", "18\t1 26 30 0 60 120"})
    EXPECT_EQ(decode_pow(bad), PowConfig{}) << "'" << bad << "'";
}

TEST(Pow, ConfigBounds) {
  auto check = [](PowConfig c) {
    ConfigPatch p;
    p.pow = c;
    return validate(p).ok();
  };
  EXPECT_TRUE(check(PowConfig{}));
  EXPECT_TRUE(check(pow_cfg(32, true, 32)));
  EXPECT_FALSE(check(pow_cfg(33, true, 33)));
  EXPECT_FALSE(check(pow_cfg(-1)));
  EXPECT_FALSE(check(pow_cfg(20, true, 19)));  // max_bits below bits
  PowConfig c;
  c.network_share = 0;
  EXPECT_FALSE(check(c));
  c = {};
  c.surge_per_s = -1;
  EXPECT_FALSE(check(c));
  c = {};
  c.window_s = 0;
  EXPECT_FALSE(check(c));
  c.window_s = 3601;
  EXPECT_FALSE(check(c));
  c = {};
  c.ttl_s = 9;
  EXPECT_FALSE(check(c));
  c.ttl_s = 3600;
  EXPECT_TRUE(check(c));
}

TEST(Invites, CodesAreSixteenCrockfordCharacters) {
  EXPECT_EQ(kInviteAlphabet.size(), 32u);
  EXPECT_TRUE(valid_invite_code("0123456789ABCDEF"));
  EXPECT_TRUE(valid_invite_code("GHJKMNPQRSTVWXYZ"));
  EXPECT_FALSE(valid_invite_code("0123456789ABCDE"));    // 15
  EXPECT_FALSE(valid_invite_code("0123456789ABCDEFG"));  // 17
  EXPECT_FALSE(valid_invite_code("0123456789abcdef"));   // stored upper case
  for (char c : {'I', 'L', 'O', 'U', '-', ' ', '*'})
    EXPECT_FALSE(valid_invite_code(std::string(15, 'A') + c)) << c;
}

TEST(Invites, TypedCodesAreNormalised) {
  EXPECT_EQ(normalize_invite_code("7K3M-ABCD-EFGH-JKMN"), "7K3MABCDEFGHJKMN");
  EXPECT_EQ(normalize_invite_code("7k3m abcd efgh jkmn"), "7K3MABCDEFGHJKMN");
  EXPECT_EQ(normalize_invite_code("7K3MABCDEFGHJKMN"), "7K3MABCDEFGHJKMN");
  // Crockford's decoding: the letters a person may type for 0 and 1 are read as them.
  EXPECT_EQ(normalize_invite_code("O1IL-oilA-BCDE-FGHJ"), "0111011ABCDEFGHJ");
  EXPECT_EQ(normalize_invite_code(""), "");
  EXPECT_EQ(normalize_invite_code("----"), "");
  EXPECT_EQ(normalize_invite_code("7K3M-ABCD-EFGH-JKM"), "");     // short
  EXPECT_EQ(normalize_invite_code("7K3M-ABCD-EFGH-JKMNP"), "");   // long
  EXPECT_EQ(normalize_invite_code("7K3M-ABCD-EFGH-JKMU"), "");    // U is no symbol
  EXPECT_EQ(normalize_invite_code("7K3M_ABCD_EFGH_JKMN"), "");
  EXPECT_EQ(normalize_invite_code(std::string(100'000, 'A')), "");
  EXPECT_EQ(normalize_invite_code("7K3M\xc3\xa9" "ABCDEFGHJKM"), "");
}

TEST(Invites, RefusalOrderIsInvalidRevokedExpiredUsedUp) {
  constexpr Millis now = 1'700'000'000'000;
  EXPECT_EQ(invite_refusal(nullptr, now)->code, Errc::invite_invalid);
  Invite i;
  i.code = "0123456789ABCDEF";
  i.uses = 2;
  i.used = 1;
  EXPECT_FALSE(invite_refusal(&i, now).has_value());
  i.expires_ms = now + 1;
  EXPECT_FALSE(invite_refusal(&i, now).has_value());
  i.expires_ms = now;
  EXPECT_EQ(invite_refusal(&i, now)->code, Errc::invite_expired);
  i.used = 2;
  EXPECT_EQ(invite_refusal(&i, now)->code, Errc::invite_expired);
  i.revoked = true;
  EXPECT_EQ(invite_refusal(&i, now)->code, Errc::invite_revoked);
  i.revoked = false;
  i.expires_ms = 0;  // never expires
  EXPECT_EQ(invite_refusal(&i, now)->code, Errc::invite_used_up);
  i.used = 5;  // (more than its uses: still used up)
  EXPECT_EQ(invite_refusal(&i, now)->code, Errc::invite_used_up);
}

InviteSpec spec(int64_t count, int64_t uses = 1, Millis expires_ms = 0, std::string label = "") {
  InviteSpec s;
  s.count = count;
  s.uses = uses;
  s.expires_ms = expires_ms;
  s.label = std::move(label);
  return s;
}

TEST(Invites, SpecBounds) {
  constexpr Millis now = 1'700'000'000'000;
  auto ok = [&](InviteSpec s) { return validate(s, now).ok(); };
  EXPECT_TRUE(ok(InviteSpec{}));
  InviteSpec most = spec(10'000, 1'000'000, now + 1, std::string(100, 'x'));
  most.skip = true;
  EXPECT_TRUE(ok(most));
  EXPECT_FALSE(ok(spec(0)));
  EXPECT_FALSE(ok(spec(10'001)));
  EXPECT_FALSE(ok(spec(1, 0)));
  EXPECT_FALSE(ok(spec(1, 1'000'001)));
  EXPECT_FALSE(ok(spec(1, 1, now)));
  EXPECT_FALSE(ok(spec(1, 1, -5)));
  EXPECT_FALSE(ok(spec(1, 1, 0, std::string(101, 'x'))));
  EXPECT_TRUE(ok(spec(1, 1, 0, "VIP \xe2\x80\x94 members")));
  EXPECT_FALSE(ok(spec(1, 1, 0, "\xff")));
  EXPECT_FALSE(ok(spec(1, 1, 0, "line\nbreak")));
  EXPECT_FALSE(ok(spec(1, 1, 0, "del\x7f")));
}

TEST(Skip, OrdersAreAboveEveryLineOrderAndExactAsDoubles) {
  EXPECT_FALSE(is_skip(0));
  EXPECT_FALSE(is_skip(kSkipOrder - 1));
  EXPECT_TRUE(is_skip(kSkipOrder + 1));
  for (uint64_t n : {uint64_t{1}, uint64_t{123'456'789}, (uint64_t{1} << 52) - 1}) {
    uint64_t o = kSkipOrder + n;
    EXPECT_EQ(static_cast<uint64_t>(static_cast<double>(o)), o);
  }
}

TEST(Skip, AdmissionCountIsWhatMaxActiveAllowsWhenOpen) {
  QueueConfig c;
  c.max_active = 5;
  c.admit_per_s = 0;  // skippers take no tokens: the rate does not matter
  EXPECT_EQ(skip_admission_count(c, Phase::open, 3, 10), 2);
  EXPECT_EQ(skip_admission_count(c, Phase::open, 3, 1), 1);
  EXPECT_EQ(skip_admission_count(c, Phase::open, 0, 7), 5);
  EXPECT_EQ(skip_admission_count(c, Phase::open, 5, 3), 0);
  EXPECT_EQ(skip_admission_count(c, Phase::open, 8, 3), 0);  // max_active lowered below active
  EXPECT_EQ(skip_admission_count(c, Phase::open, 0, 0), 0);
  EXPECT_EQ(skip_admission_count(c, Phase::prequeue, 0, 3), 0);
  EXPECT_EQ(skip_admission_count(c, Phase::before, 0, 3), 0);
  EXPECT_EQ(skip_admission_count(c, Phase::closed, 0, 3), 0);
  c.paused = true;
  EXPECT_EQ(skip_admission_count(c, Phase::open, 0, 3), 0);
}

}  // namespace
}  // namespace anteroom::rules
