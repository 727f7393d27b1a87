#include "store/redis/script_io.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "core/rules.hpp"
#include "store/redis/lua_scripts.hpp"

namespace anteroom::redis {

RedisScript compose_script(std::string_view name, std::string_view body, bool cluster,
                           RedisScript::Durability durability) {
  std::string head = "local RETENTION_MS = " + std::to_string(rules::kEndedRetentionMs) + "\n";
  head += std::string("local CLUSTER = ") + (cluster ? "true" : "false") + "\n";
  head += redis::embedded_lua("lib");
  return RedisScript(head + "\n-- " + std::string(name) + ".lua\n" + std::string(body),
                     durability);
}

const Scripts& scripts(bool cluster) {
  auto build = [](bool c) {
    // Reads (and touch: a lost last-seen costs nothing, the next touch sets it again) never wait
    // for replicas under --redis-wait-replicas; every other script changes what a visitor was
    // told, so it does.
    using D = RedisScript::Durability;
    auto make = [&](std::string_view name, D d = D::replicated) {
      std::string_view body = redis::embedded_lua(name);
      if (body.empty()) throw std::logic_error("missing embedded Lua script " + std::string(name));
      return compose_script(name, body, c, d);
    };
    const D read = D::unreplicated;
    std::string_view reserve = redis::embedded_lua("reserve_queue");
    if (reserve.empty()) throw std::logic_error("missing embedded Lua script reserve_queue");
    return Scripts{make("put_queue"),
                   make("get_queue", read),
                   make("close_queue"),
                   make("join"),
                   make("get_ticket", read),
                   make("leave"),
                   make("complete"),
                   make("touch", read),
                   make("tick"),
                   make("list_open", read),
                   make("draw_page", read),
                   make("places", read),
                   make("draw_secret", read),
                   make("create_invites"),
                   make("list_invites", read),
                   make("revoke_invite"),
                   RedisScript(std::string(reserve))};
  };
  static const Scripts standalone = build(false);
  static const Scripts clustered = build(true);
  return cluster ? clustered : standalone;
}

std::string num(int64_t v) { return std::to_string(v); }
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Error queue_not_found(const std::string& q) {
  return err(Errc::queue_not_found, "no queue named '" + q + "'");
}

Error script_error(const std::string& status, const std::string& q) {
  if (status == "queue_not_found") return queue_not_found(q);
  if (status == "queue_closed") return err(Errc::queue_closed, "this queue is closed");
  if (status == "ticket_not_found")
    return err(Errc::ticket_not_found, "no such ticket in this queue");
  if (status == "too_many_queues")
    return err(Errc::too_many_queues, "the queue limit of this installation is reached");
  if (status == "no_draw")
    return err(Errc::no_draw, "this queue has no draw (it has no opens_at)");
  if (status == "invite_not_found")
    return err(Errc::invite_not_found, "no such invite code for this queue");
  if (status == "too_many_invites")
    return err(
        Errc::too_many_invites,
        "a queue holds at most " + std::to_string(rules::kMaxInvitesPerQueue) + " invite codes");
  if (status == "bad_request")
    return err(Errc::bad_request, "a waiting ticket cannot complete; it was never admitted");
  return err(Errc::internal, "redis script failed: " + status);
}

// Error replies that mean "Redis cannot serve right now" rather than a bug.
Error reply_error(const RedisReply& r) {
  static constexpr std::string_view kTransient[] = {
      "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "OOM",
      // Cluster: still redirected after the client's last retry (a reshard or failover going on).
      "MOVED", "ASK"};
  for (auto prefix : kTransient)
    if (r.str.starts_with(prefix)) return err(Errc::unavailable, "redis: " + r.str);
  return err(Errc::internal, "redis: " + r.str);
}

Error malformed() { return err(Errc::internal, "redis script returned an unexpected reply"); }

namespace {

// Reads the flat string/integer fields of a script reply; remembers whether any was malformed.
class Fields {
 public:
  explicit Fields(const RedisReply& r) : r_(r), ok_(r.is_array()) {}
  bool ok() const { return ok_; }
  size_t size() const { return r_.elements.size(); }
  int64_t i(size_t k) {
    auto v = k < size() ? r_.elements[k].as_int() : std::nullopt;
    ok_ = ok_ && v.has_value();
    return v.value_or(0);
  }
  double d(size_t k) {
    auto v = k < size() ? r_.elements[k].as_double() : std::nullopt;
    ok_ = ok_ && v.has_value();
    return v.value_or(0);
  }
  const std::string& s(size_t k) {
    static const std::string kEmpty;
    ok_ = ok_ && k < size();
    return k < size() ? r_.elements[k].str : kEmpty;
  }

 private:
  const RedisReply& r_;
  bool ok_;
};

// A schedule time: '' is unset.
std::optional<int64_t> opt_time(Fields& f, size_t k) {
  if (f.s(k).empty()) return std::nullopt;
  return f.i(k);
}

}  // namespace

// See info() in lua/lib.lua for the field order.
Result<QueueInfo> parse_info(const std::string& q, const RedisReply& r) {
  Fields f(r);
  QueueInfo i;
  i.name = q;
  i.closed = f.s(0) == "1";
  i.seq = static_cast<uint64_t>(f.i(1));
  i.stats.admitted_total = f.i(2);
  i.stats.abandoned_total = f.i(3);
  i.stats.expired_total = f.i(4);
  i.stats.completed_total = f.i(5);
  i.stats.left_total = f.i(6);
  i.config.admit_per_s = f.d(7);
  i.config.max_active = f.i(8);
  i.config.session_ttl_s = f.i(9);
  i.config.abandon_after_s = f.i(10);
  i.config.paused = f.s(11) == "1";
  i.config.target_url = f.s(12);
  i.config.webhooks = rules::decode_webhooks(f.s(13));
  i.stats.waiting = f.i(14);
  i.stats.active = f.i(15);
  i.stats.oldest_joined_ms = f.i(16);
  i.config.prequeue_at = opt_time(f, 17);
  i.config.opens_at = opt_time(f, 18);
  i.config.closes_at = opt_time(f, 19);
  auto mode = mode_from(f.s(20));
  i.config.message = f.s(21);
  auto state = draw_state_from(f.s(22));
  i.draw.commitment = f.s(23);
  i.draw.entrants = f.i(24);
  i.draw.base = static_cast<uint64_t>(f.i(25));
  i.draw.drawn_at_ms = f.i(26);
  i.config.pow = rules::decode_pow(f.s(27));
  i.config.invite_only = f.s(28) == "1";
  i.stats.joined_total = f.i(29);
  if (!f.ok() || f.size() != 30 || !mode || !state) return malformed();
  i.config.mode = *mode;
  i.draw.state = *state;
  return i;
}

// See view() in lua/lib.lua for the field order.
Result<Ticket> parse_ticket(const std::string& q, const RedisReply& r) {
  Fields f(r);
  Ticket t;
  t.id = f.s(0);
  t.queue = q;
  auto state = ticket_state_from(f.s(1));
  auto reason = end_reason_from(f.s(2));
  t.order = static_cast<uint64_t>(f.i(3));
  t.joined_ms = f.i(4);
  t.admitted_ms = f.i(5);
  t.expires_ms = f.i(6);
  t.position = f.i(7);
  t.seq = static_cast<uint64_t>(f.i(8));
  t.entrant = f.s(9) == "1";
  t.place = f.i(10);
  t.skip = f.s(11) == "1";
  if (!f.ok() || f.size() != 12 || !state || !reason) return malformed();
  t.state = *state;
  t.reason = *reason;
  return t;
}

std::string encode_invite(const Invite& v) {
  return num(v.uses) + ' ' + num(v.used) + ' ' + num(v.expires_ms) + ' ' + (v.skip ? '1' : '0') +
         ' ' + (v.revoked ? '1' : '0') + ' ' + num(v.created_ms) + ' ' + v.label;
}

std::optional<Invite> decode_invite(std::string code, std::string_view rec) {
  Invite v;
  v.code = std::move(code);
  int64_t f[6];
  size_t i = 0;
  for (int n = 0; n < 6; ++n) {
    size_t j = rec.find(' ', i);
    if (j == std::string_view::npos) return std::nullopt;
    std::string_view w = rec.substr(i, j - i);
    auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), f[n]);
    if (w.empty() || ec != std::errc() || p != w.data() + w.size() || f[n] < 0) return std::nullopt;
    i = j + 1;
  }
  if (f[3] > 1 || f[4] > 1) return std::nullopt;
  v.uses = f[0];
  v.used = f[1];
  v.expires_ms = f[2];
  v.skip = f[3] == 1;
  v.revoked = f[4] == 1;
  v.created_ms = f[5];
  v.label = std::string(rec.substr(i));
  return v;
}

namespace {


// The verdict join.lua gets: a valid proof's id becomes a key name, so only a checked
// challenge's id (base64url) goes in; anything else would be a bug of the edge: invalid.
PowVerdict sent_verdict(const PowProof& p) {
  if (p.verdict != PowVerdict::valid) return p.verdict;
  auto b64url = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  };
  if (p.id.empty() || p.id.size() > 64 || !std::all_of(p.id.begin(), p.id.end(), b64url))
    return PowVerdict::invalid;
  return PowVerdict::valid;
}

// The error codes join.lua's pow and invite refusals name.
std::optional<Errc> refusal_code(std::string_view s) {
  static constexpr std::pair<std::string_view, Errc> kCodes[] = {
      {"pow_required", Errc::pow_required},         {"pow_invalid", Errc::pow_invalid},
      {"pow_wrong_queue", Errc::pow_wrong_queue},   {"pow_expired", Errc::pow_expired},
      {"pow_insufficient", Errc::pow_insufficient}, {"pow_used", Errc::pow_used},
      {"invite_invalid", Errc::invite_invalid},     {"invite_used_up", Errc::invite_used_up},
      {"invite_expired", Errc::invite_expired},     {"invite_revoked", Errc::invite_revoked}};
  for (auto& [name, code] : kCodes)
    if (name == s) return code;
  return std::nullopt;
}

// A {'pow', errc, required} reply: the rules' own refusal (the Lua mirror named the same code,
// held equal by a redistest), or pow_used, which only the store knows.
Result<Ticket> pow_refused(const RedisReply& one, const PowProof* proof) {
  if (one.elements.size() != 3) return malformed();
  auto code = refusal_code(one.elements[1].str);
  auto bits = one.elements[2].as_int();
  if (!code || !bits) return malformed();
  if (*code == Errc::pow_used)
    return Error{Errc::pow_used,
                 "this challenge was used by an earlier join: solve a new one",
                 {{"bits", std::to_string(*bits)}}};
  PowProof sent = proof ? *proof : PowProof{};
  sent.verdict = sent_verdict(sent);
  auto e = rules::pow_refusal(static_cast<int>(*bits), sent);
  if (!e || e->code != *code) return err(Errc::internal, "join.lua's proof check disagrees");
  return *e;
}

// A {'invite', errc, record} reply: rules::invite_refusal of the record the script read.
Result<Ticket> invite_refused(const RedisReply& one, Millis now) {
  if (one.elements.size() != 3) return malformed();
  auto code = refusal_code(one.elements[1].str);
  if (!code) return malformed();
  std::optional<Invite> inv;
  if (!one.elements[2].str.empty()) inv = decode_invite("", one.elements[2].str);
  auto e = rules::invite_refusal(inv ? &*inv : nullptr, now);
  if (!e || e->code != *code) return err(Errc::internal, "join.lua's invite check disagrees");
  return *e;
}

}  // namespace

std::string encode_proof(const PowProof& p) {
  if (p.verdict == PowVerdict::none && p.extra_bits == 0) return {};
  const PowVerdict v = sent_verdict(p);
  std::string id = v == PowVerdict::valid ? p.id : std::string();
  return std::string(to_string(v)) + ' ' + num(int64_t{std::max(0, p.extra_bits)}) + ' ' +
         num(int64_t{std::max(0, p.bits)}) + ' ' + id + ' ' +
         num(std::max<int64_t>(0, p.expires_ms));
}

std::vector<Result<Ticket>> join_results(const std::string& q, const Result<RedisReply>& r,
                                         const std::vector<Millis>& nows,
                                         const std::vector<const PowProof*>& proofs,
                                         std::vector<bool>& need_key) {
  const size_t n = nows.size();
  need_key.assign(n, false);
  std::optional<Error> all;  // a failure of the whole call
  if (!r)
    all = r.error();
  else if (r->is_error())
    all = reply_error(r.value());
  else if (!r->is_array() || r->elements.size() != n)
    all = malformed();
  std::vector<Result<Ticket>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (all) {
      out.emplace_back(*all);
      continue;
    }
    const RedisReply& one = r->elements[i];
    const std::string& status = one.is_array() && !one.elements.empty() ? one.elements[0].str
                                                                        : std::string();
    if (status.empty()) {
      out.emplace_back(malformed());
    } else if (status == "need_key") {
      need_key[i] = true;
      out.emplace_back(err(Errc::internal, "a pre-queue join was not keyed with the draw's seed"));
    } else if (status == "refused") {
      Fields f(one);
      QueueConfig c;
      c.prequeue_at = opt_time(f, 2);
      c.opens_at = opt_time(f, 3);
      c.closes_at = opt_time(f, 4);
      c.message = f.s(5);
      auto rule = f.s(1) == "refuse_closed"      ? rules::JoinRule::refuse_closed
                  : f.s(1) == "refuse_rejecting" ? rules::JoinRule::refuse_rejecting
                  : f.s(1) == "refuse_not_open"  ? rules::JoinRule::refuse_not_open
                                                 : rules::JoinRule::join_line;
      if (!f.ok() || f.size() != 6 || rule == rules::JoinRule::join_line)
        out.emplace_back(malformed());
      else
        out.emplace_back(rules::join_refusal(rule, c, nows[i]));
    } else if (status == "pow") {
      out.push_back(pow_refused(one, i < proofs.size() ? proofs[i] : nullptr));
    } else if (status == "invite") {
      out.push_back(invite_refused(one, nows[i]));
    } else if (status == "invite_required") {
      out.emplace_back(err(Errc::invite_required, "this queue takes joins with an invite code"));
    } else if (status != "ok") {
      out.emplace_back(script_error(status, q));
    } else if (one.elements.size() != 3) {
      out.emplace_back(malformed());
    } else {
      auto t = parse_ticket(q, one.elements[1]);
      if (t) t->created = one.elements[2].as_int() == 1;
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace anteroom::redis
