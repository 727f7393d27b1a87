#include "http/queue_config.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <optional>

#include <boost/url/parse.hpp>

#include "core/rules.hpp"
#include "http/json_body.hpp"
#include "webhooks/address_policy.hpp"

namespace anteroom::http {

namespace json = boost::json;

namespace {

constexpr double kMinAdmitPerS = 0.001;

// See parse_patch: where a visitor's browser is sent with its token.
Status check_target_url(const std::string& u) {
  if (u.empty()) return Ok{};  // no target: the page shows the token instead
  for (char c : u) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f)
      return err(Errc::bad_request, "target_url must not contain control characters");
    if (c == '\\')
      return err(Errc::bad_request,
                 "target_url must not contain a backslash (browsers read it as '/')");
  }
  if (u[0] == '/') {
    if (u.size() > 1 && u[1] == '/')
      return err(Errc::bad_request,
                 "target_url must be a path starting with a single '/' (\"//host\" is another "
                 "site) or an absolute http(s) URL");
    return Ok{};
  }
  if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0)
    return err(Errc::bad_request,
               "target_url must be an absolute http(s) URL or a path starting with '/'");
  auto parsed = boost::urls::parse_uri(u);  // (a #fragment is allowed)
  if (!parsed || parsed->encoded_host().empty())
    return err(Errc::bad_request, "target_url is not a valid http(s) URL with a host");
  return Ok{};
}

}  // namespace

// Strict parse of a queue config body: an object of known fields with the right types.
Result<ConfigPatch> parse_patch(const std::string& body, bool webhook_allow_private) {
  ConfigPatch p;
  if (body.empty()) return p;
  auto v = parse_object(body);
  if (!v) return v.error();
  for (auto& field : v->as_object()) {
    // (Not a structured binding: the lambda below captures the key, which clang before 16
    // refuses for a binding, and the fuzz build uses clang 14.)
    std::string_view k = field.key();
    json::value& val = field.value();
    auto want = [&](bool ok, const char* type) -> Status {
      if (ok) return Ok{};
      return err(Errc::bad_request, std::string(k) + " must be " + type);
    };
    Status s = Ok{};
    if (k == "admit_per_s") {
      s = want(val.is_number(), "a number");
      if (s) {
        double r = val.to_number<double>();
        if (r != 0 && !(r >= kMinAdmitPerS && r <= rules::kMaxAdmitPerS))
          return err(Errc::bad_request, "admit_per_s must be 0 or between 0.001 and 1000000");
        p.admit_per_s = r;
      }
    } else if (k == "max_active" || k == "session_ttl_s" || k == "abandon_after_s") {
      auto i = json_integer(val);
      s = want(i.has_value(), "an integer");
      if (s) {
        int64_t n = *i;
        if (k == "max_active")
          p.max_active = n;
        else if (k == "session_ttl_s")
          p.session_ttl_s = n;
        else
          p.abandon_after_s = n;
      }
    } else if (k == "paused") {
      s = want(val.is_bool(), "true or false");
      if (s) p.paused = val.as_bool();
    } else if (k == "target_url") {
      s = want(val.is_string(), "a string");
      if (s) {
        p.target_url = std::string(val.as_string());
        if (auto t = check_target_url(*p.target_url); !t) return t.error();
      }
    } else if (k == "webhooks") {
      // [{"url": "...", "secret": "..."}] or ["url", ...]
      s = want(val.is_array(), "a list of {\"url\",\"secret\"} objects");
      if (!s) return s.error();
      std::vector<WebhookTarget> hooks;
      for (auto& h : val.as_array()) {
        WebhookTarget t;
        if (h.is_string()) {
          t.url = std::string(h.as_string());
        } else if (h.is_object()) {
          for (auto& [hk, hv] : h.as_object()) {
            if ((hk != "url" && hk != "secret") || !hv.is_string())
              return err(Errc::bad_request, "a webhook is {\"url\": string, \"secret\": string}");
            (hk == "url" ? t.url : t.secret) = std::string(hv.as_string());
          }
        } else {
          return err(Errc::bad_request, "a webhook is {\"url\": string, \"secret\": string}");
        }
        if (!webhook_allow_private)
          if (auto why = webhook_url_refusal(t.url)) return err(Errc::bad_request, *why);
        hooks.push_back(std::move(t));
      }
      p.webhooks = std::move(hooks);
    } else if (k == "prequeue_at" || k == "opens_at" || k == "closes_at") {
      // Unix seconds, or null to unset (the bounds are rules::validate's).
      std::optional<int64_t> t = json_integer(val);
      s = want(val.is_null() || t, "an integer (Unix seconds) or null");
      if (s) {
        if (t && (*t < rules::kMinUnixS || *t > rules::kMaxUnixS))
          return err(Errc::bad_request, std::string(k) +
                                            " must be Unix seconds between 946684800 (2000) and "
                                            "4102444800 (2100), or null");
        (k == "prequeue_at" ? p.prequeue_at : k == "opens_at" ? p.opens_at : p.closes_at) = t;
      }
    } else if (k == "mode") {
      s = want(val.is_string(), "one of \"fifo\", \"random\", \"passthrough\", \"reject\"");
      if (s) {
        auto m = mode_from(std::string_view(val.as_string()));
        if (!m)
          return err(Errc::bad_request,
                     "mode must be one of \"fifo\", \"random\", \"passthrough\", \"reject\"");
        p.mode = *m;
      }
    } else if (k == "message") {
      s = want(val.is_string(), "a string");
      if (s) p.message = std::string(val.as_string());
    } else if (k == "pow") {
      // {"bits": n, "adaptive": bool, "max_bits": n, "network_share": n, "surge_per_s": n,
      //  "window_s": n, "ttl_s": n}, replaced whole (fields left out take their defaults; no
      // "bits": rules::kDefaultPowBits); a bare integer is {"bits": n}; true is the defaults,
      // false is off. Bounds: rules::validate.
      PowConfig w;
      if (val.is_bool()) {
        w.bits = val.as_bool() ? rules::kDefaultPowBits : 0;
      } else if (auto n = json_integer(val)) {
        w.bits = static_cast<int>(std::clamp<int64_t>(*n, -1, 1000));
        w.max_bits = std::max(w.max_bits, w.bits);
      } else if (val.is_object()) {
        bool max_given = false;
        w.bits = rules::kDefaultPowBits;  // an object without "bits": on, at the default
        for (auto& pf : val.as_object()) {
          std::string_view pk = pf.key();
          const json::value& pv = pf.value();
          if (pk == "adaptive") {
            if (!pv.is_bool()) return err(Errc::bad_request, "pow.adaptive must be true or false");
            w.adaptive = pv.as_bool();
            continue;
          }
          auto n = json_integer(pv);
          if (!n)
            return err(Errc::bad_request, "pow." + std::string(pk) + " must be an integer");
          int64_t small = std::clamp<int64_t>(*n, -1, 1000);  // (bits: out of range says so)
          if (pk == "bits") w.bits = static_cast<int>(small);
          else if (pk == "max_bits") { w.max_bits = static_cast<int>(small); max_given = true; }
          else if (pk == "network_share") w.network_share = *n;
          else if (pk == "surge_per_s") w.surge_per_s = *n;
          else if (pk == "window_s") w.window_s = *n;
          else if (pk == "ttl_s") w.ttl_s = *n;
          else return err(Errc::bad_request, "unknown field 'pow." + std::string(pk) + "'");
        }
        if (!max_given) w.max_bits = std::max(w.max_bits, w.bits);
      } else {
        return err(Errc::bad_request,
                   "pow must be true, false, bits, or an object {\"bits\": n, ...}");
      }
      p.pow = w;
    } else if (k == "invite_only") {
      s = want(val.is_bool(), "true or false");
      if (s) p.invite_only = val.as_bool();
    } else {
      return err(Errc::bad_request, "unknown field '" + std::string(k) + "'");
    }
    if (!s) return s.error();
  }
  if (auto s = rules::validate(p); !s) return s.error();
  return p;
}

}  // namespace anteroom::http
