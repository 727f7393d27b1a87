#pragma once
// The text of the SSE frames a stream is sent. Pure functions: no state, no I/O, any thread.
// Every event frame carries the queue's seq as its id, so a client (or a test) can tell which
// state of the queue it shows.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/types.hpp"
#include "token/admission.hpp"

namespace anteroom::sse {

// `id: <id>\nevent: <event>\ndata: <data>\n\n`.
std::string frame(std::string_view event, uint64_t id, std::string_view data);
// {"position":..,"eta_s":..,"paused":..}
std::string position(uint64_t id, int64_t position, int64_t eta_s, bool paused);
// {"token":..,"expires_at":..,"redirect":..}
std::string admitted(uint64_t id, const Admission& a);
// {"reason":..}
std::string ended(uint64_t id, EndReason r);
// The on-sale (SPEC §7). {"opens_at","seconds_left","entrants"(,"entry_id": first frame only)}
std::string prequeue(uint64_t id, int64_t opens_at, int64_t seconds_left, int64_t entrants,
                     std::string_view entry_id = {});
// {"place","entrants","position","eta_s"}: an entrant's place, once drawn.
std::string drawn(uint64_t id, int64_t place, int64_t entrants, int64_t position, int64_t eta_s);
// {"message"}: the operator's message changed (or a new stream's first frame had one).
std::string message(uint64_t id, std::string_view message);
// {"waiting","eta_min_s","eta_max_s"}: mode random, instead of a position.
std::string lottery(uint64_t id, int64_t waiting, int64_t eta_min_s, int64_t eta_max_s);
// `event: replaced`: a newer stream of the same ticket took this one's place; the stream closes
// and the client must not reconnect. No id: the client's Last-Event-ID stays the last state.
std::string replaced();
// Tells the client to reconnect after `after` (graceful shutdown); not an event.
std::string retry(std::chrono::milliseconds after);
// A comment line: keeps proxies from timing the stream out.
inline constexpr std::string_view kHeartbeat = ": hb\n\n";

// True if two frames differ in their id line only (b non-empty): re-sending `a` would show the
// client nothing new.
bool same_payload(std::string_view a, std::string_view b);

}  // namespace anteroom::sse
