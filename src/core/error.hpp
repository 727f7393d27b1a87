#pragma once
// Expected failures as values. Every layer returns Result<T>; the HTTP edge maps Errc to a status
// in one place (src/http/errors.cpp). Exceptions are for programming errors only.
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace anteroom {

enum class Errc {
  bad_request,         // malformed JSON, wrong field type, out-of-range value
  invalid_queue_name,  // does not match [a-z0-9][a-z0-9-]{0,63}
  queue_not_found,
  queue_closed,
  ticket_not_found,
  too_many_queues,
  unauthorized,
  rate_limited,
  unavailable,  // the store cannot answer now (Redis down); retry later
  internal,
  not_open_yet,     // a join before the queue's prequeue_at (details: the schedule, now)
  joins_refused,    // mode reject (details: queue_message)
  schedule_locked,  // prequeue_at/opens_at changed after the draw, or under a running line
  no_draw,          // GET .../draw of a queue that never had opens_at
  // Proof of work (SPEC §8): 403, each refusal with a fresh challenge in its details.
  pow_required,      // the queue needs a proof and the join has none
  pow_invalid,       // malformed or forged (not signed by this fleet)
  pow_wrong_queue,   // signed for another queue
  pow_expired,       // the challenge's time is over
  pow_insufficient,  // fewer leading zero bits than the challenge or the queue asks
  pow_used,          // the challenge was used by an earlier join (any process)
  // Invite codes (SPEC §8): 403.
  invite_required,  // the queue is invite-only and the join has no code
  invite_invalid,   // no such code for this queue (or malformed)
  invite_used_up,   // every use of the code is taken
  invite_expired,
  invite_revoked,
  invite_not_found,   // DELETE of an unknown code: 404
  too_many_invites,   // the queue holds rules::kMaxInvitesPerQueue codes: 409
  // Raised at the HTTP edge only:
  invalid_json,
  invalid_token,
  not_found,  // no such route
  method_not_allowed,
  payload_too_large,
  headers_too_large,
  over_capacity,  // connection limits reached; retry later
};

struct Error {
  Errc code;
  std::string message;
  // Extra fields of the JSON error body, in order: name → a JSON literal (a number, null, or a
  // quoted and escaped string), e.g. {"opens_at", "1767225600"}.
  std::vector<std::pair<std::string, std::string>> details = {};
};

// A value or an Error. Small on purpose: C++20 has no std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  // Default-constructible for asio's completion plumbing; holds an internal error.
  Result() : v_(std::in_place_index<1>, Error{Errc::internal, "no result"}) {}
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error err(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

}  // namespace anteroom
