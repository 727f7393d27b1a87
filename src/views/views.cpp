#include "views/views.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>

namespace anteroom::views {

namespace json = boost::json;

namespace {

// Appends "key": values to a JSON object being written by hand; strings are escaped exactly as
// Boost.JSON escapes them (the common plain case is copied as is).
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& o) : o_(o) {}
  void str(std::string_view k, std::string_view v) {
    key(k);
    bool plain = std::all_of(v.begin(), v.end(),
                             [](unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; });
    if (plain) {
      o_ += '"';
      o_ += v;
      o_ += '"';
    } else {
      o_ += json::serialize(json::string_view(v));
    }
  }
  void num(std::string_view k, int64_t v) {
    key(k);
    o_ += std::to_string(v);
  }
  void boolean(std::string_view k, bool v) {
    key(k);
    o_ += v ? "true" : "false";
  }
  void close() { o_ += o_.empty() ? "{}" : "}"; }

 private:
  void key(std::string_view k) {
    o_ += o_.empty() ? "{\"" : ",\"";
    o_ += k;
    o_ += "\":";
  }
  std::string& o_;
};

// Integral values print as integers (10, not 1E1); others keep two decimals.
json::value number(double d) {
  if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  return std::round(d * 100) / 100;
}

}  // namespace

std::string ticket_json(const Ticket& t, const TicketExtras& x) {
  std::string o;
  o.reserve(160);
  ObjectWriter w(o);
  w.str("ticket", t.id);
  w.str("queue", t.queue);
  w.str("status", to_string(t.state));
  switch (t.state) {
    case TicketState::waiting:
      w.num("position", t.position);
      w.num("eta_s", x.eta_s);
      w.boolean("paused", x.paused);
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

std::string queue_json(const QueueInfo& i, double admit_rate, Millis now) {
  json::object c;
  c["admit_per_s"] = number(i.config.admit_per_s);
  c["max_active"] = i.config.max_active;
  c["session_ttl_s"] = i.config.session_ttl_s;
  c["abandon_after_s"] = i.config.abandon_after_s;
  c["paused"] = i.config.paused;
  c["target_url"] = i.config.target_url;
  json::array hooks;
  for (const auto& h : i.config.webhooks)
    hooks.push_back(json::object{{"url", h.url}, {"signed", !h.secret.empty()}});
  c["webhooks"] = std::move(hooks);
  json::object s;
  s["waiting"] = i.stats.waiting;
  s["active"] = i.stats.active;
  s["admitted_total"] = i.stats.admitted_total;
  s["abandoned_total"] = i.stats.abandoned_total;
  s["expired_total"] = i.stats.expired_total;
  s["completed_total"] = i.stats.completed_total;
  s["left_total"] = i.stats.left_total;
  s["admit_rate"] = number(admit_rate);
  s["oldest_wait_s"] = i.stats.oldest_joined_ms ? (now - i.stats.oldest_joined_ms) / 1000 : 0;
  json::object o;
  o["name"] = i.name;
  o["closed"] = i.closed;
  o["seq"] = i.seq;
  o["config"] = std::move(c);
  o["stats"] = std::move(s);
  return json::serialize(o);
}

}  // namespace anteroom::views
