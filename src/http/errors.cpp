#include "http/errors.hpp"

#include <boost/json.hpp>

namespace anteroom::http {

bhttp::status status_of(Errc c) {
  using s = bhttp::status;
  switch (c) {
    case Errc::bad_request:
    case Errc::invalid_queue_name:
    case Errc::invalid_json: return s::bad_request;
    case Errc::unauthorized:
    case Errc::invalid_token: return s::unauthorized;
    case Errc::queue_not_found:
    case Errc::ticket_not_found:
    case Errc::not_found: return s::not_found;
    case Errc::method_not_allowed: return s::method_not_allowed;
    case Errc::too_many_queues: return s::conflict;
    case Errc::queue_closed: return s::gone;
    case Errc::payload_too_large: return s::payload_too_large;
    case Errc::headers_too_large: return s::request_header_fields_too_large;
    case Errc::rate_limited: return s::too_many_requests;
    case Errc::over_capacity:
    case Errc::unavailable: return s::service_unavailable;
    case Errc::internal: return s::internal_server_error;
    case Errc::not_open_yet:
    case Errc::joins_refused: return s::forbidden;
    case Errc::schedule_locked: return s::conflict;
    case Errc::no_draw: return s::not_found;
    case Errc::pow_required:
    case Errc::pow_invalid:
    case Errc::pow_wrong_queue:
    case Errc::pow_expired:
    case Errc::pow_insufficient:
    case Errc::pow_used:
    case Errc::invite_required:
    case Errc::invite_invalid:
    case Errc::invite_used_up:
    case Errc::invite_expired:
    case Errc::invite_revoked: return s::forbidden;
    case Errc::invite_not_found: return s::not_found;
    case Errc::too_many_invites: return s::conflict;
  }
  return s::internal_server_error;
}

std::string_view code_of(Errc c) {
  switch (c) {
    case Errc::bad_request: return "bad_request";
    case Errc::invalid_queue_name: return "invalid_queue_name";
    case Errc::invalid_json: return "invalid_json";
    case Errc::unauthorized: return "unauthorized";
    case Errc::invalid_token: return "invalid_token";
    case Errc::queue_not_found: return "queue_not_found";
    case Errc::ticket_not_found: return "ticket_not_found";
    case Errc::not_found: return "not_found";
    case Errc::method_not_allowed: return "method_not_allowed";
    case Errc::too_many_queues: return "too_many_queues";
    case Errc::queue_closed: return "queue_closed";
    case Errc::payload_too_large: return "payload_too_large";
    case Errc::headers_too_large: return "headers_too_large";
    case Errc::rate_limited: return "rate_limited";
    case Errc::over_capacity: return "over_capacity";
    case Errc::unavailable: return "unavailable";
    case Errc::internal: return "internal";
    case Errc::not_open_yet: return "not_open_yet";
    case Errc::joins_refused: return "joins_refused";
    case Errc::schedule_locked: return "schedule_locked";
    case Errc::no_draw: return "no_draw";
    case Errc::pow_required: return "pow_required";
    case Errc::pow_invalid: return "pow_invalid";
    case Errc::pow_wrong_queue: return "pow_wrong_queue";
    case Errc::pow_expired: return "pow_expired";
    case Errc::pow_insufficient: return "pow_insufficient";
    case Errc::pow_used: return "pow_used";
    case Errc::invite_required: return "invite_required";
    case Errc::invite_invalid: return "invite_invalid";
    case Errc::invite_used_up: return "invite_used_up";
    case Errc::invite_expired: return "invite_expired";
    case Errc::invite_revoked: return "invite_revoked";
    case Errc::invite_not_found: return "invite_not_found";
    case Errc::too_many_invites: return "too_many_invites";
  }
  return "internal";
}

HttpResponse error_response(const Error& e) {
  HttpResponse res;
  res.status = status_of(e.code);
  res.content_type = "application/json";
  res.cache_control = "no-store";
  if (e.code == Errc::rate_limited) res.set("Retry-After", "1");
  if (e.code == Errc::over_capacity || e.code == Errc::unavailable) res.set("Retry-After", "2");
  boost::json::object o;
  o["error"] = code_of(e.code);
  o["message"] = e.message;
  res.body = boost::json::serialize(o);
  // Details are JSON literals already (core/error.hpp): appended as they are.
  if (!e.details.empty()) {
    res.body.pop_back();
    for (const auto& [name, literal] : e.details) res.body += ",\"" + name + "\":" + literal;
    res.body += '}';
  }
  return res;
}

}  // namespace anteroom::http
