#include "core/rules.hpp"

#include <algorithm>
#include <cmath>

#include "core/encoding.hpp"

namespace anteroom::rules {

bool valid_queue_name(std::string_view n) {
  if (n.empty() || n.size() > kMaxQueueName) return false;
  auto ok = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && c == '-');
  };
  for (size_t i = 0; i < n.size(); ++i)
    if (!ok(n[i], i == 0)) return false;
  return true;
}

bool valid_ticket_id(std::string_view id) {
  if (id.size() != 22) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_'))
      return false;
  return true;
}

Status validate(const ConfigPatch& p) {
  if (p.admit_per_s && !(*p.admit_per_s >= 0 && *p.admit_per_s <= kMaxAdmitPerS))
    return err(Errc::bad_request, "admit_per_s must be between 0 and 1000000");
  if (p.max_active && (*p.max_active < 0 || *p.max_active > kMaxActive))
    return err(Errc::bad_request, "max_active must be between 0 and 100000000");
  if (p.session_ttl_s && (*p.session_ttl_s < 1 || *p.session_ttl_s > kMaxTtlS))
    return err(Errc::bad_request, "session_ttl_s must be between 1 and 604800");
  if (p.abandon_after_s && (*p.abandon_after_s < 1 || *p.abandon_after_s > kMaxTtlS))
    return err(Errc::bad_request, "abandon_after_s must be between 1 and 604800");
  if (p.target_url) {
    const auto& u = *p.target_url;
    if (u.size() > kMaxTargetUrl) return err(Errc::bad_request, "target_url is too long");
    bool rel = !u.empty() && u[0] == '/' && (u.size() == 1 || u[1] != '/');
    if (!u.empty() && !rel && u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
      return err(Errc::bad_request, "target_url must be an http(s) URL or a path");
    for (char c : u)
      if (static_cast<unsigned char>(c) < 0x21 || c == '"' || c == '<' || c == '>')
        return err(Errc::bad_request, "target_url contains a character not allowed in a URL");
  }
  if (p.webhooks) {
    if (p.webhooks->size() > kMaxWebhooks)
      return err(Errc::bad_request, "at most 8 webhooks per queue");
    for (const auto& h : *p.webhooks) {
      if (h.url.size() > kMaxTargetUrl || (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0))
        return err(Errc::bad_request, "webhook urls must be http(s) URLs of at most 2048 characters");
      for (char c : h.url)
        if (static_cast<unsigned char>(c) < 0x21 || c == '"' || c == '<' || c == '>')
          return err(Errc::bad_request, "webhook url contains a character not allowed in a URL");
      if (h.secret.size() > kMaxWebhookSecret)
        return err(Errc::bad_request, "webhook secrets are at most 256 characters");
      for (char c : h.secret)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          return err(Errc::bad_request, "webhook secrets must be printable");
    }
  }
  for (const auto* t : {&p.prequeue_at, &p.opens_at, &p.closes_at})
    if (*t && **t && (***t < kMinUnixS || ***t > kMaxUnixS))
      return err(Errc::bad_request, "schedule times are Unix seconds between 946684800 (2000) "
                                    "and 4102444800 (2100)");
  if (p.message) {
    auto chars = utf8_chars(*p.message);
    if (chars < 0) return err(Errc::bad_request, "message must be valid UTF-8");
    if (static_cast<size_t>(chars) > kMaxMessageChars)
      return err(Errc::bad_request, "message is at most 500 characters");
    const std::string& m = *p.message;
    for (size_t i = 0; i < m.size(); ++i) {
      auto c = static_cast<unsigned char>(m[i]);
      // C0 but the line break, DEL, and C1 (U+0080..U+009F, UTF-8 C2 80..C2 9F).
      bool c1 = c == 0xc2 && i + 1 < m.size() && static_cast<unsigned char>(m[i + 1]) <= 0x9f;
      if ((c < 0x20 && c != '\n') || c == 0x7f || c1)
        return err(Errc::bad_request, "message must not contain control characters");
    }
  }
  if (p.pow) {
    const PowConfig& w = *p.pow;
    if (w.bits < 0 || w.bits > kMaxPowBits)
      return err(Errc::bad_request, "pow.bits must be between 0 (off) and 32");
    if (w.max_bits < w.bits || w.max_bits > kMaxPowBits)
      return err(Errc::bad_request, "pow.max_bits must be between pow.bits and 32");
    if (w.network_share < 1 || w.network_share > kMaxPowShare)
      return err(Errc::bad_request, "pow.network_share must be between 1 and 1000000");
    if (w.surge_per_s < 0 || w.surge_per_s > static_cast<int64_t>(kMaxAdmitPerS))
      return err(Errc::bad_request, "pow.surge_per_s must be between 0 (off) and 1000000");
    if (w.window_s < 1 || w.window_s > kMaxPowWindowS)
      return err(Errc::bad_request, "pow.window_s must be between 1 and 3600");
    if (w.ttl_s < kMinPowTtlS || w.ttl_s > kMaxPowTtlS)
      return err(Errc::bad_request, "pow.ttl_s must be between 10 and 3600");
  }
  return Ok{};
}

// ---- Bots pay, guests skip ---------------------------------------------------------------------

int pow_required_bits(const PowConfig& c, int extra) {
  if (c.bits <= 0) return 0;
  int need = c.bits + (c.adaptive && extra > 0 ? extra : 0);
  return std::max(c.bits, std::min(need, c.max_bits));
}

std::optional<Error> pow_refusal(int required, const PowProof& proof) {
  if (required <= 0) return std::nullopt;
  auto refuse = [&](Errc code, std::string msg) -> std::optional<Error> {
    return Error{code, std::move(msg), {{"bits", std::to_string(required)}}};
  };
  switch (proof.verdict) {
    case PowVerdict::none:
      return refuse(Errc::pow_required, "this queue needs a proof of work: solve the challenge");
    case PowVerdict::invalid:
      return refuse(Errc::pow_invalid, "the proof's challenge is malformed or not ours");
    case PowVerdict::wrong_queue:
      return refuse(Errc::pow_wrong_queue, "the proof's challenge is for another queue");
    case PowVerdict::expired:
      return refuse(Errc::pow_expired, "the proof's challenge has expired");
    case PowVerdict::insufficient:
      return refuse(Errc::pow_insufficient,
                    "the nonce's hash has fewer leading zero bits than the challenge asks");
    case PowVerdict::valid:
      if (proof.bits < required)
        return refuse(Errc::pow_insufficient,
                      "the challenge asks fewer bits than this queue now needs");
      return std::nullopt;
  }
  return refuse(Errc::pow_invalid, "the proof is not valid");
}

std::string encode_pow(const PowConfig& c) {
  return std::to_string(c.bits) + ' ' + (c.adaptive ? '1' : '0') + ' ' +
         std::to_string(c.max_bits) + ' ' + std::to_string(c.network_share) + ' ' +
         std::to_string(c.surge_per_s) + ' ' + std::to_string(c.window_s) + ' ' +
         std::to_string(c.ttl_s);
}

PowConfig decode_pow(std::string_view s) {
  int64_t v[7];
  int n = 0;
  size_t i = 0;
  while (n < 7 && i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view f = s.substr(i, j - i);
    if (f.empty() || f.size() > 18) return {};
    int64_t x = 0;
    for (char ch : f) {
      if (ch < '0' || ch > '9') return {};
      x = x * 10 + (ch - '0');
    }
    v[n++] = x;
    i = j + 1;
  }
  // Exactly seven fields: the last one ends the string (no trailing field or space).
  if (n != 7 || i != s.size() + 1) return {};
  PowConfig c;
  c.bits = static_cast<int>(v[0]);
  c.adaptive = v[1] != 0;
  c.max_bits = static_cast<int>(v[2]);
  c.network_share = v[3];
  c.surge_per_s = v[4];
  c.window_s = v[5];
  c.ttl_s = v[6];
  return c;
}

bool valid_invite_code(std::string_view code) {
  if (code.size() != kInviteCodeLen) return false;
  for (char c : code)
    if (kInviteAlphabet.find(c) == std::string_view::npos) return false;
  return true;
}

std::string normalize_invite_code(std::string_view typed) {
  std::string out;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    // Crockford's decoding: what a person reads off a printed code as O, I or L is 0 or 1.
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    out += c;
    if (out.size() > kInviteCodeLen) return {};
  }
  return valid_invite_code(out) ? out : std::string();
}

std::optional<Error> invite_refusal(const Invite* inv, Millis now) {
  if (!inv) return Error{Errc::invite_invalid, "no such invite code for this queue"};
  if (inv->revoked) return Error{Errc::invite_revoked, "this invite code was revoked"};
  if (inv->expires_ms && now >= inv->expires_ms)
    return Error{Errc::invite_expired, "this invite code has expired"};
  if (inv->used >= inv->uses)
    return Error{Errc::invite_used_up, "every use of this invite code is taken"};
  return std::nullopt;
}

Status validate(const InviteSpec& s, Millis now) {
  if (s.count < 1 || s.count > kMaxInviteMint)
    return err(Errc::bad_request, "count must be between 1 and 10000");
  if (s.uses < 1 || s.uses > kMaxInviteUses)
    return err(Errc::bad_request, "uses must be between 1 and 1000000");
  if (s.expires_ms && s.expires_ms <= now)
    return err(Errc::bad_request, "expires_at must be in the future");
  if (s.label.size() > kMaxInviteLabel)
    return err(Errc::bad_request, "label is at most 100 bytes");
  if (utf8_chars(s.label) < 0) return err(Errc::bad_request, "label must be valid UTF-8");
  for (char c : s.label)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return err(Errc::bad_request, "label must not contain control characters");
  return Ok{};
}

int64_t skip_admission_count(const QueueConfig& c, Phase ph, int64_t active, int64_t skippers) {
  if (c.paused || ph != Phase::open || skippers <= 0) return 0;
  return std::max<int64_t>(0, std::min(skippers, c.max_active - active));
}

Status validate_schedule(const QueueConfig& c) {
  if (c.prequeue_at && !c.opens_at)
    return err(Errc::bad_request, "prequeue_at needs opens_at");
  if (c.prequeue_at && *c.prequeue_at > *c.opens_at)
    return err(Errc::bad_request, "prequeue_at must not be after opens_at");
  if (c.closes_at && c.opens_at && *c.opens_at >= *c.closes_at)
    return err(Errc::bad_request, "opens_at must be before closes_at");
  if (c.closes_at && c.prequeue_at && *c.prequeue_at >= *c.closes_at)
    return err(Errc::bad_request, "prequeue_at must be before closes_at");
  return Ok{};
}

Status check_schedule_change(const QueueInfo& cur, const ConfigPatch& p) {
  if (!p.touches_schedule() || cur.closed) return Ok{};  // a reopen starts a new epoch
  if (cur.draw.state == DrawState::drawn)
    return err(Errc::schedule_locked, "the draw is done: prequeue_at and opens_at are fixed");
  if (cur.draw.state == DrawState::prequeue) {
    if (p.opens_at && !*p.opens_at)
      return err(Errc::schedule_locked,
                 "the pre-queue is open: opens_at can move but not be removed (close the queue "
                 "to cancel the sale)");
    return Ok{};
  }
  if (cur.stats.waiting > 0)
    return err(Errc::schedule_locked,
               "visitors are waiting in line: a running queue cannot become an on-sale");
  return Ok{};
}

Phase phase(const QueueConfig& c, DrawState d, Millis now) {
  if (c.closes_at && now >= *c.closes_at * 1000) return Phase::closed;
  if (d == DrawState::drawn || !c.opens_at || now >= *c.opens_at * 1000) return Phase::open;
  if (c.prequeue_at && now < *c.prequeue_at * 1000) return Phase::before;
  return Phase::prequeue;
}

std::string_view queue_state(const QueueInfo& q, Millis now) {
  if (q.closed) return "closed";
  switch (phase(q.config, q.draw.state, now)) {
    case Phase::closed: return "closed";
    case Phase::before: return "scheduled";
    case Phase::prequeue: return "prequeue";
    case Phase::open: break;
  }
  return q.config.paused ? "paused" : "open";
}

JoinRule join_rule(Phase ph, Mode m) {
  if (ph == Phase::closed) return JoinRule::refuse_closed;
  if (m == Mode::reject) return JoinRule::refuse_rejecting;
  if (ph == Phase::before) return JoinRule::refuse_not_open;
  if (ph == Phase::prequeue) return JoinRule::enter_prequeue;
  return JoinRule::join_line;
}

namespace {
std::string time_or_null(const std::optional<int64_t>& t) {
  return t ? std::to_string(*t) : std::string("null");
}
}  // namespace

Error join_refusal(JoinRule r, const QueueConfig& c, Millis now) {
  switch (r) {
    case JoinRule::refuse_closed:
      return Error{Errc::queue_closed, "the queue is closed",
                   {{"closes_at", time_or_null(c.closes_at)}}};
    case JoinRule::refuse_rejecting:
      return Error{Errc::joins_refused, "the queue takes no joins now",
                   {{"queue_message", json_quote(c.message)}}};
    case JoinRule::refuse_not_open:
      return Error{Errc::not_open_yet, "the queue is not open yet",
                   {{"prequeue_at", time_or_null(c.prequeue_at)},
                    {"opens_at", time_or_null(c.opens_at)},
                    {"closes_at", time_or_null(c.closes_at)},
                    {"now", std::to_string(now / 1000)}}};
    default:
      return Error{Errc::internal, "not a refusal"};
  }
}

std::optional<Millis> abandon_cutoff(const QueueConfig& c, DrawState d, Millis drawn_at_ms,
                                     Millis now) {
  if (d == DrawState::prequeue) return std::nullopt;
  Millis cutoff = now - c.abandon_after_s * 1000;
  if (d == DrawState::drawn && cutoff < drawn_at_ms) return std::nullopt;
  return cutoff;
}

EtaRange lottery_eta(int64_t waiting, double observed, const QueueConfig& c) {
  if (c.paused || c.max_active == 0) return {-1, -1};
  double rate = observed > 0 ? observed : c.admit_per_s;
  if (rate <= 0) return {-1, -1};
  double all = static_cast<double>(waiting) / rate;
  return {static_cast<int64_t>(std::floor(0.1 * all)), static_cast<int64_t>(std::ceil(0.9 * all))};
}

std::string encode_webhooks(const std::vector<WebhookTarget>& hooks) {
  std::string out;
  for (const auto& h : hooks) out += h.url + "\t" + h.secret + "\n";
  return out;
}

std::vector<WebhookTarget> decode_webhooks(std::string_view s) {
  std::vector<WebhookTarget> out;
  while (!s.empty()) {
    auto nl = s.find('\n');
    std::string_view line = s.substr(0, nl);
    auto tab = line.find('\t');
    if (tab != std::string_view::npos)
      out.push_back({std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

int64_t admission_count(Bucket& b, const QueueConfig& c, int64_t active, int64_t waiting,
                        Millis now) {
  const double cap = std::max(1.0, c.admit_per_s);
  if (b.last_ms == 0) b.last_ms = now;
  if (now > b.last_ms) {
    b.tokens = std::min(cap, b.tokens + (now - b.last_ms) * c.admit_per_s / 1000.0);
    b.last_ms = now;
  }
  if (c.paused) return 0;
  if (c.mode == Mode::passthrough)
    return std::max<int64_t>(0, std::min(c.max_active - active, waiting));
  int64_t n = static_cast<int64_t>(std::floor(b.tokens + 1e-9));
  n = std::min({n, std::max<int64_t>(0, c.max_active - active), waiting});
  if (n <= 0) return 0;
  b.tokens -= static_cast<double>(n);
  return n;
}

namespace {
constexpr Millis kBucketMs = 1000;
constexpr Millis kForgetMs = 30'000;  // no admission for this long: no observed rate
constexpr double kAlpha = 0.3;
}  // namespace

void RateEstimator::roll(Millis now) const {
  if (bucket_start_ == 0) bucket_start_ = now - now % kBucketMs;
  while (now >= bucket_start_ + kBucketMs) {
    double sample = static_cast<double>(bucket_count_) * 1000.0 / kBucketMs;
    if (ewma_ < 0) {
      if (bucket_count_ > 0) ewma_ = sample;
    } else {
      ewma_ = kAlpha * sample + (1 - kAlpha) * ewma_;
    }
    bucket_count_ = 0;
    bucket_start_ += kBucketMs;
    // Skip long idle stretches in one step.
    if (now - bucket_start_ > kForgetMs) bucket_start_ = now - now % kBucketMs;
  }
}

void RateEstimator::record(Millis at, int64_t count) {
  roll(at);
  bucket_count_ += count;
  last_admit_ms_ = at;
}

double RateEstimator::rate(Millis now) const {
  roll(now);
  if (last_admit_ms_ == 0 || now - last_admit_ms_ > kForgetMs) return -1;
  if (ewma_ < 0) return -1;
  return ewma_;
}

int64_t eta_seconds(int64_t position, double observed, const QueueConfig& c) {
  if (position <= 0) return 0;
  if (c.paused) return -1;
  if (c.max_active == 0) return -1;
  double rate = observed > 0 ? observed : c.admit_per_s;
  if (rate <= 0) return -1;
  return static_cast<int64_t>(std::ceil(position / rate));
}

}  // namespace anteroom::rules
