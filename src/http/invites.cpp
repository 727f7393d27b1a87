// The operator's invite codes (SPEC §8, docs/invites.md): mint, list, revoke. Every handler
// first checks the admin Bearer token; bodies and query parameters are parsed strictly (an
// unknown field, a wrong type or a value out of bounds is a 400 that says which).
#include <boost/json.hpp>
#include <cstdint>
#include <optional>

#include "core/encoding.hpp"
#include "core/rules.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"
#include "http/json_body.hpp"
#include "views/views.hpp"

namespace anteroom::http::op {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The page size of GET .../invites when no limit is asked.
constexpr int64_t kDefaultInvitePage = 1000;



// POST .../invites body: {"count","uses","expires_at","skip","label"}, every field optional
// (an empty body mints one single-use code). The bounds are rules::validate(InviteSpec).
Result<InviteSpec> parse_invite_spec(const std::string& body, Millis now) {
  InviteSpec spec;
  if (!body.empty()) {
    auto v = parse_object(body);
    if (!v) return v.error();
    for (auto& field : v->as_object()) {
      std::string_view k = field.key();
      const json::value& val = field.value();
      if (k == "count" || k == "uses") {
        auto n = json_integer(val);
        if (!n) return err(Errc::bad_request, std::string(k) + " must be an integer");
        (k == "count" ? spec.count : spec.uses) = *n;
      } else if (k == "expires_at") {
        if (val.is_null()) {
          spec.expires_ms = 0;
          continue;
        }
        auto t = json_integer(val);
        if (!t)
          return err(Errc::bad_request, "expires_at must be an integer (Unix seconds) or null");
        // (Within the schedule's bounds, so seconds → ms cannot overflow; the past is refused
        // by rules::validate below.)
        if (*t < rules::kMinUnixS || *t > rules::kMaxUnixS)
          return err(Errc::bad_request,
                     "expires_at must be Unix seconds between 946684800 (2000) and 4102444800 "
                     "(2100), or null");
        spec.expires_ms = *t * 1000;
      } else if (k == "skip") {
        if (!val.is_bool()) return err(Errc::bad_request, "skip must be true or false");
        spec.skip = val.as_bool();
      } else if (k == "label") {
        if (!val.is_string()) return err(Errc::bad_request, "label must be a string");
        spec.label = std::string(val.as_string());
      } else {
        return err(Errc::bad_request, "unknown field '" + std::string(k) + "'");
      }
    }
  }
  if (auto s = rules::validate(spec, now); !s) return s.error();
  return spec;
}

// {"invites":[invite_json, ...]} (plus `tail`, already JSON: ",\"next\":...").
std::string invites_body(const std::vector<Invite>& list, std::string_view tail = {}) {
  std::string o;
  o.reserve(32 + list.size() * 200);
  o += "{\"invites\":[";
  for (size_t k = 0; k < list.size(); ++k) {
    if (k) o += ',';
    o += views::invite_json(list[k]);
  }
  o += ']';
  o += tail;
  o += '}';
  return o;
}

}  // namespace

asio::awaitable<HttpResponse> create_invites(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  Millis now = wall_ms();
  auto spec = parse_invite_spec(r.req.body, now);
  if (!spec) co_return error_response(spec.error());
  auto minted = co_await e.store.create_invites(r.q, std::move(*spec), now);
  if (!minted) co_return error_response(minted.error());
  co_return json_response(bhttp::status::created, invites_body(*minted));
}

// One page in code order. `next` names the page after this one while this one is full; null
// once a page comes back short (the listing is then complete).
asio::awaitable<HttpResponse> list_invites(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  std::string after_text = query_param(r.query, "after");
  std::string after;
  if (!after_text.empty()) {
    after = rules::normalize_invite_code(after_text);
    if (after.empty())
      co_return error_response(err(Errc::bad_request, "after must be an invite code"));
  }
  std::string limit_text = query_param(r.query, "limit");
  auto limit =
      limit_text.empty() ? std::optional<int64_t>(kDefaultInvitePage) : decimal(limit_text);
  if (!limit || *limit < 1 || *limit > rules::kMaxInviteMint)
    co_return error_response(err(Errc::bad_request, "limit must be an integer from 1 to 10000"));
  // An unknown queue is 404 queue_not_found, not an empty list.
  auto qi = co_await e.store.get_queue(r.q);
  if (!qi) co_return error_response(qi.error());
  auto page = co_await e.store.list_invites(r.q, after, *limit);
  if (!page) co_return error_response(page.error());
  std::string tail = ",\"next\":";
  if (static_cast<int64_t>(page->size()) == *limit && !page->empty())
    tail += "\"/v1/queues/" + r.q + "/invites?after=" + page->back().code +
            "&limit=" + std::to_string(*limit) + "\"";  // (codes and names need no escape)
  else
    tail += "null";
  co_return json_response(bhttp::status::ok, invites_body(*page, tail));
}

asio::awaitable<HttpResponse> revoke_invite(Edge& e, Request& r) {
  if (auto refused = r.refuse_non_admin(e.cfg.admin_token)) co_return std::move(*refused);
  // The path's code as a person may type it (dashes, lower case); one that cannot be a code
  // names no code.
  std::string code = rules::normalize_invite_code(r.code);
  if (code.empty())
    co_return error_response(err(Errc::invite_not_found, "no such invite code in this queue"));
  auto inv = co_await e.store.revoke_invite(r.q, std::move(code), wall_ms());
  if (!inv) co_return error_response(inv.error());
  co_return json_response(bhttp::status::ok, views::invite_json(*inv));
}

}  // namespace anteroom::http::op
