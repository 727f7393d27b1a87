// The visitor's API: join, look, leave, and the event stream.
#include <openssl/sha.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <optional>

#include "core/encoding.hpp"
#include "core/rules.hpp"
#include "draw/draw.hpp"
#include "http/errors.hpp"
#include "http/handlers.hpp"
#include "http/json_body.hpp"
#include "http/ticket_view.hpp"
#include "pow/challenge.hpp"

namespace anteroom::http::visitor {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

HttpResponse no_such_ticket() {
  return error_response(err(Errc::ticket_not_found, "no such ticket in this queue"));
}

// A join's body, as sent: {"user": ..., "invite": ..., "pow": {"challenge": ..., "nonce": ...}},
// every field optional; the dedupe key is the user's, else the Idempotency-Key header's.
struct JoinBody {
  JoinRequest req;              // dedupe_key and invite (normalised; "" = none) filled in
  bool invite_given = false;    // an "invite" field was sent (normalised to "" if malformed)
  bool pow_given = false;
  std::string challenge, nonce;  // the proof as sent (checked by the edge: pow::check)
};

Result<JoinBody> parse_join(const HttpRequest& req) {
  JoinBody b;
  std::string& key = b.req.dedupe_key;
  if (!req.body.empty()) {
    // Parsed into a buffer on the stack (a join's body is small): no heap allocation for the
    // tree, which a join with a proof of work would otherwise pay for (bench 9).
    unsigned char scratch[2048];
    json::monotonic_resource mr(scratch, sizeof scratch);
    auto j = parse_object(req.body, &mr);
    if (!j) return j.error();
    for (auto& [k, val] : j->as_object()) {
      if (k == "user") {
        if (!val.is_string() || val.as_string().empty() ||
            val.as_string().size() > rules::kMaxUserKey)
          return err(Errc::bad_request, "user must be a string of 1 to 256 characters");
        key = "u:" + std::string(val.as_string());
      } else if (k == "invite") {
        if (!val.is_string() || val.as_string().size() > 64)
          return err(Errc::bad_request, "invite must be a string of at most 64 characters");
        b.invite_given = true;
        b.req.invite = rules::normalize_invite_code(std::string_view(val.as_string()));
      } else if (k == "pow") {
        const json::object* o = val.if_object();
        const json::value* c = o ? o->if_contains("challenge") : nullptr;
        const json::value* n = o ? o->if_contains("nonce") : nullptr;
        if (!o || o->size() != 2 || !c || !n || !c->is_string() || !n->is_string())
          return err(Errc::bad_request,
                     "pow must be {\"challenge\": string, \"nonce\": string}");
        b.pow_given = true;
        b.challenge = std::string(c->as_string());
        b.nonce = std::string(n->as_string());
      } else {
        return err(Errc::bad_request, "unknown field '" + std::string(k) + "'");
      }
    }
  }
  if (key.empty()) {
    auto ik = req.header("Idempotency-Key");
    if (ik.size() > rules::kMaxUserKey)
      return err(Errc::bad_request, "Idempotency-Key is longer than 256 characters");
    if (!ik.empty()) key = "k:" + std::string(ik);
  }
  return b;
}


std::string time_or_null(const std::optional<int64_t>& t) {
  return t ? std::to_string(*t) : std::string("null");
}

// A strong validator of a drawn page: the first 16 bytes of its SHA-256, quoted.
std::string etag_of(std::string_view body) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (int i = 0; i < 16; ++i) {
    tag += kHex[md[i] >> 4];
    tag += kHex[md[i] & 15];
  }
  return tag + "\"";
}

// If-None-Match names `tag`: "*", or a list of entity tags, weak ones compared weakly
// (RFC 9110 §13.1.2).
bool none_match_hits(std::string_view header, std::string_view tag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view one = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!one.empty() && (one.front() == ' ' || one.front() == '\t')) one.remove_prefix(1);
    while (!one.empty() && (one.back() == ' ' || one.back() == '\t')) one.remove_suffix(1);
    if (one.rfind("W/", 0) == 0) one.remove_prefix(2);
    if (one == "*" || one == tag) return true;
  }
  return false;
}

// The queue's proof-of-work config, read at most once per kPowConfigTtlMs per queue (docs/pow.md:
// a change reaches the other processes' meters and challenges within a second; a PUT here
// refreshes it at once). The store's error (queue_not_found) if it cannot be read.
// The cached config if it is fresh, else null: the join's fast path (no coroutine frame).
const PowConfig* cached_pow(Edge& e, const std::string& q, Millis now) {
  auto it = e.pow_cfg.find(q);
  if (it != e.pow_cfg.end() && now >= it->second.read_ms &&
      now - it->second.read_ms < kPowConfigTtlMs)
    return &it->second.pow;
  return nullptr;
}

asio::awaitable<Result<PowConfig>> pow_config(Edge& e, const std::string& q, Millis now) {
  if (const PowConfig* c = cached_pow(e, q, now)) co_return *c;
  auto qi = co_await e.store.get_queue(q);
  if (!qi) {
    e.pow_cfg.erase(q);
    co_return qi.error();
  }
  if (e.pow_cfg.size() >= kMaxPowConfigs) e.pow_cfg.clear();
  e.pow_cfg[q] = CachedPow{qi->config.pow, now};
  co_return qi->config.pow;
}

// Mints a challenge of `bits` for the client, counted in the metrics (the caller counts it in the
// meter first): the JSON it is handed.
std::string hand_out(Edge& e, const Request& r, const PowConfig& c, int bits, Millis now) {
  pow::Challenge ch = pow::mint(e.pow_key, r.q, bits, now + c.ttl_s * 1000);
  e.pow_m.challenges.inc();
  e.pow_m.bits.observe(bits);
  return pow::challenge_json(ch);
}

// The index of a pow_* / invite_* code in PowProbe's refused arrays; -1 for any other code.
int pow_reason(Errc c) {
  switch (c) {
    case Errc::pow_required: return 0;
    case Errc::pow_invalid: return 1;
    case Errc::pow_wrong_queue: return 2;
    case Errc::pow_expired: return 3;
    case Errc::pow_insufficient: return 4;
    case Errc::pow_used: return 5;
    default: return -1;
  }
}
int invite_reason(Errc c) {
  switch (c) {
    case Errc::invite_required: return 0;
    case Errc::invite_invalid: return 1;
    case Errc::invite_used_up: return 2;
    case Errc::invite_expired: return 3;
    case Errc::invite_revoked: return 4;
    default: return -1;
  }
}

// The "bits" detail of a store's pow_* refusal (what the queue needs now), if it has one.
std::optional<int> detail_bits(const Error& err) {
  for (const auto& [name, literal] : err.details)
    if (name == "bits") {
      auto n = decimal(literal);
      if (n && *n <= rules::kMaxPowBits) return static_cast<int>(*n);
    }
  return std::nullopt;
}

}  // namespace

asio::awaitable<HttpResponse> join(Edge& e, Request& r) {
  if (e.join_limiter.enabled() && !e.join_limiter.allow(std::string(r.ip), wall_ms())) {
    e.m_rej_rate.inc();
    co_return error_response(
        err(Errc::rate_limited, "too many joins from this address; retry shortly"));
  }
  auto jb = parse_join(r.req);
  if (!jb) co_return error_response(jb.error());
  if (jb->invite_given && jb->req.invite.empty()) {
    e.pow_m.invite_refused[invite_reason(Errc::invite_invalid)]->inc();
    co_return error_response(err(Errc::invite_invalid, "no such invite code for this queue"));
  }
  // The proof of work: checked here (stateless: signature, queue, expiry, hash); whether the
  // queue needs one, at how many bits, and single use are the store's, atomically with the join.
  Millis now = wall_ms();
  PowConfig pc;
  if (const PowConfig* c = cached_pow(e, r.q, now)) {
    pc = *c;
  } else {
    auto cfg = co_await pow_config(e, r.q, now);
    if (!cfg) co_return error_response(cfg.error());  // (the join would say the same)
    pc = *cfg;
    now = wall_ms();  // (the read may have waited for the store)
  }
  PowProof& proof = jb->req.pow;
  if (jb->pow_given) proof = pow::check(e.pow_key, r.q, jb->challenge, jb->nonce, now);
  proof.extra_bits = e.meter.extra_bits(r.q, r.ip, pc, now);
  bool proved = proof.verdict == PowVerdict::valid;
  bool invited = !jb->req.invite.empty();
  auto t = co_await e.store.join(r.q, std::move(jb->req), now);
  if (!t) {
    const Error& why = t.error();
    // (queue_closed counts the joins refused at closes_at and after a DELETE alike.)
    if (why.code == Errc::not_open_yet) e.m_refused_not_open.inc();
    if (why.code == Errc::joins_refused) e.m_refused_reject.inc();
    if (why.code == Errc::queue_closed) e.m_refused_closed.inc();
    if (int i = invite_reason(why.code); i >= 0) e.pow_m.invite_refused[i]->inc();
    if (int i = pow_reason(why.code); i >= 0) {
      // One round trip for JSON clients: the refusal carries a challenge at the bits needed.
      // Counted first, then measured, as GET challenge does: the bits handed out are the bits
      // the client's next join needs (unless its network keeps busy meanwhile).
      e.pow_m.refused[i]->inc();
      e.meter.challenge(r.q, r.ip, pc, now);
      int bits = std::max(detail_bits(why).value_or(0),
                          rules::pow_required_bits(pc, e.meter.extra_bits(r.q, r.ip, pc, now)));
      Error with{why.code, why.message, {}};
      for (const auto& d : why.details)
        if (d.first != "bits") with.details.push_back(d);
      with.details.emplace_back("bits", std::to_string(bits));
      with.details.emplace_back("challenge", hand_out(e, r, pc, bits, now));
      co_return error_response(with);
    }
    co_return error_response(why);
  }
  if (t->created) {
    e.m_joins.inc();
    e.meter.join(r.q, r.ip, pc, now);
    if (proved && pc.bits > 0) e.pow_m.verified.inc();
    if (invited) e.pow_m.invite_joins.inc();
  }
  std::string body = co_await ticket_body(e, *t, /*events_url=*/true);
  auto res =
      json_response(t->created ? bhttp::status::created : bhttp::status::ok, std::move(body));
  res.set("Location", "/v1/queues/" + r.q + "/tickets/" + t->id);
  co_return res;
}

// A challenge at the bits this client needs now (docs/pow.md). Public; it costs the client's
// network one challenge in the meter and one token of the per-address join rate.
asio::awaitable<HttpResponse> challenge(Edge& e, Request& r) {
  Millis now = wall_ms();
  if (e.join_limiter.enabled() && !e.join_limiter.allow(std::string(r.ip), now)) {
    e.m_rej_rate.inc();
    co_return error_response(
        err(Errc::rate_limited, "too many joins from this address; retry shortly"));
  }
  auto cfg = co_await pow_config(e, r.q, now);
  if (!cfg) co_return error_response(cfg.error());
  e.meter.challenge(r.q, r.ip, *cfg, now);
  int bits = rules::pow_required_bits(*cfg, e.meter.extra_bits(r.q, r.ip, *cfg, now));
  co_return json_response(bhttp::status::ok, hand_out(e, r, *cfg, bits, now));
}

asio::awaitable<HttpResponse> get_ticket(Edge& e, Request& r) {
  if (!rules::valid_ticket_id(r.t)) co_return no_such_ticket();
  auto t = co_await e.store.get_ticket(r.q, r.t, /*touch=*/true, wall_ms());
  if (!t) co_return error_response(t.error());
  co_return json_response(bhttp::status::ok, co_await ticket_body(e, *t));
}

asio::awaitable<HttpResponse> leave(Edge& e, Request& r) {
  if (!rules::valid_ticket_id(r.t)) co_return no_such_ticket();
  auto t = co_await e.store.leave(r.q, r.t, wall_ms());
  if (!t) co_return error_response(t.error());
  co_return json_response(bhttp::status::ok, co_await ticket_body(e, *t));
}

// The hub opens the stream (current state from the store), then owns the socket and writes
// every frame itself. An error is answered here and the connection closed after it.
asio::awaitable<HttpResponse> events(Edge& e, Request& r) {
  r.close = true;
  if (!rules::valid_ticket_id(r.t)) co_return no_such_ticket();
  auto opened = co_await e.hub.open(r.q, r.t);
  if (!opened) co_return error_response(opened.error());
  if (e.stopping) {
    e.hub.close(*opened);
    co_return error_response(err(Errc::over_capacity, "shutting down; retry shortly"));
  }
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: " +
      std::to_string(e.cfg.sse_retry.count()) + "\n\n";
  e.hub.attach(*opened, std::move(r.takeover->sock), std::move(head),
               std::move(r.takeover->on_detach));
  r.takeover->done = true;
  co_return HttpResponse{};
}

// One page of the draw's published order (docs/api.md "GET /v1/queues/{q}/draw"). Public: the
// entry ids are one-way, and the seed is only in the store's answer once the draw is done. A
// drawn page never changes within the queue's epoch, so it may be cached for good.
asio::awaitable<HttpResponse> draw(Edge& e, Request& r) {
  std::string after_text = query_param(r.query, "after");
  std::string limit_text = query_param(r.query, "limit");
  auto after = after_text.empty() ? std::optional<int64_t>(0) : decimal(after_text);
  if (!after)
    co_return error_response(
        err(Errc::bad_request, "after must be a place: an integer of 0 or more"));
  auto limit = limit_text.empty() ? std::optional<int64_t>(kMaxDrawPage) : decimal(limit_text);
  if (!limit || *limit < 1 || *limit > kMaxDrawPage)
    co_return error_response(err(Errc::bad_request, "limit must be an integer from 1 to 10000"));
  // The schedule's times come with the queue's config; the store has no draw for a queue
  // without opens_at in this epoch (404 no_draw).
  auto qi = co_await e.store.get_queue(r.q);
  if (!qi) co_return error_response(qi.error());
  auto page = co_await e.store.draw_page(r.q, *after, *limit);
  if (!page) co_return error_response(page.error());
  const DrawInfo& d = page->info;
  bool drawn = d.state == DrawState::drawn;
  // A URL naming the draw's commitment (every `next` link does) names one draw for good; a
  // reopened queue has a new draw under the same path, and the old one is gone.
  std::string named = query_param(r.query, "commitment");
  if (!named.empty() && named != d.commitment)
    co_return error_response(err(Errc::no_draw,
                                 "that draw is no longer served: the queue has a new one"));

  std::string o;
  o.reserve(512 + (drawn ? page->entries.size() * 25 : 0));
  o += "{\"queue\":\"" + r.q + "\",\"algorithm\":\"";  // (a valid queue name needs no escape)
  o += draw::kAlgorithm;
  o += "\",\"state\":\"";
  o += to_string(d.state);
  o += "\",\"commitment\":\"" + d.commitment + "\",\"entrants\":" + std::to_string(d.entrants);
  o += ",\"prequeue_at\":" + time_or_null(qi->config.prequeue_at);
  o += ",\"opens_at\":" + time_or_null(qi->config.opens_at);
  o += ",\"drawn_at_ms\":" + std::to_string(d.drawn_at_ms);
  if (drawn) o += ",\"seed\":\"" + d.seed + "\"";
  o += ",\"after\":" + std::to_string(*after);
  if (drawn) {
    o += ",\"entries\":[";
    for (size_t k = 0; k < page->entries.size(); ++k) {
      if (k) o += ',';
      o += '"';
      o += page->entries[k];  // base64url: no escape needed
      o += '"';
    }
    o += ']';
  }
  int64_t shown = *after + static_cast<int64_t>(page->entries.size());
  if (drawn && !page->entries.empty() && shown < d.entrants)
    o += ",\"next\":\"/v1/queues/" + r.q + "/draw?after=" + std::to_string(shown) +
         "&limit=" + std::to_string(*limit) + "&commitment=" + d.commitment + "\"}";
  else
    o += ",\"next\":null}";

  e.m_draw_pages.inc();
  HttpResponse res = json_response(bhttp::status::ok, std::move(o));
  if (drawn) {
    // The order is fixed for the epoch: let caches and CDNs keep it (verify-draw downloads
    // every page of a draw that may be a million entries long) for good when the URL names the
    // draw, a minute otherwise (the same path serves the next sale's draw after a reopen).
    res.cache_control = named.empty() ? "public, max-age=60" : "public, max-age=31536000, immutable";
    std::string tag = etag_of(res.body);
    if (none_match_hits(r.req.header("If-None-Match"), tag)) {
      res.status = bhttp::status::not_modified;
      res.body.clear();
    }
    res.set("ETag", std::move(tag));
  }
  co_return res;
}

}  // namespace anteroom::http::visitor
