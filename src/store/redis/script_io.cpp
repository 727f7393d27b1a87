#include "store/redis/script_io.hpp"

#include <cstdio>
#include <optional>
#include <stdexcept>

#include "core/rules.hpp"
#include "store/redis/lua_scripts.hpp"

namespace anteroom::redis {

RedisScript compose_script(std::string_view name, std::string_view body) {
  std::string head = "local RETENTION_MS = " + std::to_string(rules::kEndedRetentionMs) + "\n";
  head += redis::embedded_lua("lib");
  return RedisScript(head + "\n-- " + std::string(name) + ".lua\n" + std::string(body));
}

const Scripts& scripts() {
  static const Scripts s = [] {
    auto make = [&](std::string_view name) {
      std::string_view body = redis::embedded_lua(name);
      if (body.empty()) throw std::logic_error("missing embedded Lua script " + std::string(name));
      return compose_script(name, body);
    };
    return Scripts{make("put_queue"),  make("get_queue"),   make("close_queue"), make("join"),
                   make("get_ticket"), make("leave"),       make("complete"),    make("touch"),
                   make("tick"),       make("list_open"),   make("draw_page"),   make("places"),
                   make("draw_secret")};
  }();
  return s;
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
  if (status == "bad_request")
    return err(Errc::bad_request, "a waiting ticket cannot complete; it was never admitted");
  return err(Errc::internal, "redis script failed: " + status);
}

// Error replies that mean "Redis cannot serve right now" rather than a bug.
Error reply_error(const RedisReply& r) {
  static constexpr std::string_view kTransient[] = {
      "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "OOM"};
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
  if (!f.ok() || f.size() != 29 || !mode || !state) return malformed();
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
  if (!f.ok() || f.size() != 11 || !state || !reason) return malformed();
  t.state = *state;
  t.reason = *reason;
  return t;
}


std::vector<Result<Ticket>> join_results(const std::string& q, const Result<RedisReply>& r,
                                         const std::vector<Millis>& nows,
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
