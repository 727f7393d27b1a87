#include "views/views.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

#include "draw/draw.hpp"
#include "views/json_writer.hpp"

namespace anteroom::views {

namespace json = boost::json;

namespace {

// (The writer every view uses: views/json_writer.hpp.)
using ObjectWriter = JsonWriter;

// A measured rate keeps two decimals (what it is worth showing).
double two_decimals(double d) { return std::round(d * 100) / 100; }

}  // namespace

std::string ticket_json(const Ticket& t, const TicketExtras& x) {
  std::string o;
  o.reserve(160);
  ObjectWriter w(o);
  w.str("ticket", t.id);
  w.str("queue", t.queue);
  bool prequeue = t.state == TicketState::waiting && t.entrant && t.place == 0;
  w.str("status", prequeue ? std::string_view("prequeue") : to_string(t.state));
  switch (t.state) {
    case TicketState::waiting:
      if (prequeue) {
        w.str("entry_id", draw::entry_id(t.id));
        w.num("opens_at", x.opens_at);
        w.num("seconds_left", x.seconds_left);
      } else if (x.lottery && !t.entrant) {
        w.boolean("lottery", true);
        w.num("waiting", x.waiting);
        w.num("eta_min_s", x.eta_min_s);
        w.num("eta_max_s", x.eta_max_s);
      } else {
        w.num("position", t.position);
        w.num("eta_s", x.eta_s);
        w.boolean("paused", x.paused);
      }
      break;
    case TicketState::active:
      w.str("token", x.admission.token);
      w.num("expires_at", x.admission.expires_at);
      w.str("redirect", x.admission.redirect);
      break;
    case TicketState::ended:
      w.str("reason", to_string(t.reason));
      break;
  }
  if (t.entrant && t.place > 0 && t.state != TicketState::ended) {
    w.str("entry_id", draw::entry_id(t.id));
    w.num("place", t.place);
  }
  w.boolean("skip", t.skip);
  if (x.events_url) w.str("events_url", "/v1/queues/" + t.queue + "/tickets/" + t.id + "/events");
  w.close();
  return o;
}

std::string admission_json(const Admission& a) {
  std::string o;
  o.reserve(64 + a.token.size() + a.redirect.size());
  ObjectWriter w(o);
  w.str("token", a.token);
  w.num("expires_at", a.expires_at);
  w.str("redirect", a.redirect);
  w.close();
  return o;
}

std::string position_json(int64_t position, int64_t eta_s, bool paused) {
  char data[128];
  int n = std::snprintf(data, sizeof data, "{\"position\":%lld,\"eta_s\":%lld,\"paused\":%s}",
                        static_cast<long long>(position), static_cast<long long>(eta_s),
                        paused ? "true" : "false");
  return std::string(data, n);
}

std::string ended_json(EndReason r) { return "{\"reason\":\"" + std::string(to_string(r)) + "\"}"; }

std::string invite_json(const Invite& inv) {
  std::string o;
  o.reserve(192 + inv.label.size());
  ObjectWriter w(o);
  w.str("code", inv.code);
  w.num("uses", inv.uses);
  w.num("used", inv.used);
  w.num("uses_left", std::max<int64_t>(0, inv.uses - inv.used));
  // Rounded up: a code shown as expiring at s is refused from s at the latest.
  w.num_or_null("expires_at", inv.expires_ms ? std::optional<int64_t>((inv.expires_ms + 999) / 1000)
                                             : std::nullopt);
  w.boolean("skip", inv.skip);
  w.boolean("revoked", inv.revoked);
  w.num("created_at", inv.created_ms / 1000);
  w.str("label", inv.label);
  w.close();
  return o;
}

std::string queue_json(const QueueInfo& i, double admit_rate, Millis now) {
  std::string c;
  ObjectWriter cw(c);
  cw.real("admit_per_s", i.config.admit_per_s);
  cw.num("max_active", i.config.max_active);
  cw.num("session_ttl_s", i.config.session_ttl_s);
  cw.num("abandon_after_s", i.config.abandon_after_s);
  cw.boolean("paused", i.config.paused);
  cw.str("target_url", i.config.target_url);
  json::array hooks;
  for (const auto& h : i.config.webhooks)
    hooks.push_back(json::object{{"url", h.url}, {"signed", !h.secret.empty()}});
  cw.raw("webhooks", json::serialize(hooks));
  cw.num_or_null("prequeue_at", i.config.prequeue_at);
  cw.num_or_null("opens_at", i.config.opens_at);
  cw.num_or_null("closes_at", i.config.closes_at);
  cw.str("mode", to_string(i.config.mode));
  cw.str("message", i.config.message);
  {
    const PowConfig& w = i.config.pow;
    std::string pw;
    ObjectWriter ow(pw);
    ow.num("bits", w.bits);
    ow.boolean("adaptive", w.adaptive);
    ow.num("max_bits", w.max_bits);
    ow.num("network_share", w.network_share);
    ow.num("surge_per_s", w.surge_per_s);
    ow.num("window_s", w.window_s);
    ow.num("ttl_s", w.ttl_s);
    ow.close();
    cw.raw("pow", pw);
  }
  cw.boolean("invite_only", i.config.invite_only);
  cw.close();
  std::string s;
  ObjectWriter sw(s);
  sw.num("waiting", i.stats.waiting);
  sw.num("active", i.stats.active);
  sw.num("admitted_total", i.stats.admitted_total);
  sw.num("abandoned_total", i.stats.abandoned_total);
  sw.num("expired_total", i.stats.expired_total);
  sw.num("completed_total", i.stats.completed_total);
  sw.num("left_total", i.stats.left_total);
  sw.num("joined_total", i.stats.joined_total);
  sw.real("admit_rate", two_decimals(admit_rate));
  sw.num("oldest_wait_s", i.stats.oldest_joined_ms ? (now - i.stats.oldest_joined_ms) / 1000 : 0);
  sw.close();
  std::string o;
  ObjectWriter w(o);
  w.str("name", i.name);
  w.boolean("closed", i.closed);
  w.num("seq", static_cast<int64_t>(i.seq));
  w.raw("config", c);
  w.raw("stats", s);
  std::string d;
  ObjectWriter dw(d);
  dw.str("state", to_string(i.draw.state));
  dw.num("entrants", i.draw.entrants);
  dw.str("commitment", i.draw.commitment);
  dw.num("drawn_at_ms", i.draw.drawn_at_ms);
  dw.close();
  w.raw("draw", d);
  w.close();
  return o;
}

}  // namespace anteroom::views

namespace anteroom::views {

std::string prequeue_json(int64_t opens_at, int64_t seconds_left, int64_t entrants,
                          std::string_view entry_id) {
  std::string o;
  o.reserve(96);
  ObjectWriter w(o);
  w.num("opens_at", opens_at);
  w.num("seconds_left", seconds_left);
  w.num("entrants", entrants);
  if (!entry_id.empty()) w.str("entry_id", entry_id);
  w.close();
  return o;
}

std::string drawn_json(int64_t place, int64_t entrants, int64_t position, int64_t eta_s) {
  std::string o;
  o.reserve(96);
  ObjectWriter w(o);
  w.num("place", place);
  w.num("entrants", entrants);
  w.num("position", position);
  w.num("eta_s", eta_s);
  w.close();
  return o;
}

std::string message_json(std::string_view message) {
  std::string o;
  ObjectWriter w(o);
  w.str("message", message);
  w.close();
  return o;
}

std::string lottery_json(int64_t waiting, int64_t eta_min_s, int64_t eta_max_s) {
  std::string o;
  o.reserve(64);
  ObjectWriter w(o);
  w.num("waiting", waiting);
  w.num("eta_min_s", eta_min_s);
  w.num("eta_max_s", eta_max_s);
  w.close();
  return o;
}

}  // namespace anteroom::views
