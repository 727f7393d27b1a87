#pragma once
// The JSON the API and the event streams show: a ticket, a queue, an admission, and the payloads
// of the SSE `position` and `ended` frames (docs/api.md). Plain functions from values to bytes:
// the caller fetches whatever a view needs (store, hub) first, then formats. No I/O here.
//
// The ticket, admission, position and ended views are written by hand: they are every join's
// answer and every stream's frame. Thread-safe (no state).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/types.hpp"
#include "token/admission.hpp"

namespace anteroom::views {

// What a ticket's view needs beside the ticket itself.
struct TicketExtras {
  int64_t eta_s = 0;        // waiting: the estimated wait
  bool paused = false;      // waiting: the queue is paused
  Admission admission;      // active: the token and redirect (admission_for)
  bool events_url = false;  // add "events_url" (the answer to a join)
  // A pre-queue entrant (waiting, place 0): the queue's opens_at (Unix seconds) and the seconds
  // from now until then (0 once reached: the draw is due).
  int64_t opens_at = 0;
  int64_t seconds_left = 0;
  // A waiting post-open ticket of a mode-random queue: no position (any waiting visitor may be
  // picked next), the number waiting and the 10th..90th percentile of the wait instead.
  bool lottery = false;
  int64_t waiting = 0;
  int64_t eta_min_s = 0;
  int64_t eta_max_s = 0;
};

// {"ticket","queue","status", then by state:
//   pre-queue entrant (waiting, place 0): status "prequeue", "entry_id","opens_at","seconds_left"
//   waiting, x.lottery: "lottery":true,"waiting","eta_min_s","eta_max_s"
//   waiting:  "position","eta_s","paused"    | active: "token","expires_at","redirect"
//   (a drawn entrant, waiting or active, adds "entry_id","place")
//   ended: "reason"
//   then always "skip" (joined with a skip-the-line invite code)
// } (+ "events_url"). entry_id is draw::entry_id(ticket id).
std::string ticket_json(const Ticket& t, const TicketExtras& x);

// {"token","expires_at","redirect"}: the SSE `admitted` payload.
std::string admission_json(const Admission& a);
// {"position","eta_s","paused"}: the SSE `position` payload.
std::string position_json(int64_t position, int64_t eta_s, bool paused);
// {"reason"}: the SSE `ended` payload.
std::string ended_json(EndReason r);

// {"name","closed","seq","config":{...},"stats":{...},"draw":{"state","entrants","commitment",
// "drawn_at_ms"}}; webhook secrets are write-only (shown as "signed"); unset schedule times are
// null. `admit_rate`: admissions per second lately; `now`: for oldest_wait_s.
std::string queue_json(const QueueInfo& i, double admit_rate, Millis now);

// {"code","uses","used","uses_left","expires_at"(Unix s | null),"skip","revoked",
//  "created_at"(Unix s),"label"}: one invite code, as every invites route shows it (docs/api.md).
// The store keeps milliseconds; the API shows seconds like the schedule (expires_at rounded up,
// so a code is never shown as expiring before it does).
std::string invite_json(const Invite& inv);

// ---- The on-sale's SSE payloads (SPEC §7) ----------------------------------------------------

// {"opens_at","seconds_left","entrants"(,"entry_id")}: `event: prequeue`, an entrant waiting
// for the draw. The entry id only in a stream's first frame (the broadcast that follows when
// the count changes is one frame for every stream of the queue).
std::string prequeue_json(int64_t opens_at, int64_t seconds_left, int64_t entrants,
                          std::string_view entry_id = {});
// {"place","entrants","position","eta_s"}: `event: drawn`, an entrant's place in the draw.
std::string drawn_json(int64_t place, int64_t entrants, int64_t position, int64_t eta_s);
// {"message"}: `event: message`, the operator's message ("" = none any more).
std::string message_json(std::string_view message);
// {"waiting","eta_min_s","eta_max_s"}: `event: lottery`, mode random (no position).
std::string lottery_json(int64_t waiting, int64_t eta_min_s, int64_t eta_max_s);

}  // namespace anteroom::views
