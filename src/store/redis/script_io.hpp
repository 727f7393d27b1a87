#pragma once
// What RedisStore's Lua scripts take and return: the scripts themselves (lib.lua + each
// operation, composed once per process), number formatting for their arguments, and the parsing
// of their replies into the queue model (field orders: info() and view() in lua/lib.lua).
// Pure functions over replies; thread-safe.
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/types.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom::redis {

struct Scripts {
  RedisScript put_queue, get_queue, close_queue, join, get_ticket, leave, complete, touch, tick,
      list_open, draw_page, places, draw_secret;
};
// Each script is its constants, then lib.lua, then its own file; built once per process. Throws
// std::logic_error if a script is missing from the binary.
const Scripts& scripts();
// A script made of the constants, lib.lua and `body` (the tests use it to call lib.lua's
// functions, e.g. the rules mirrors).
RedisScript compose_script(std::string_view name, std::string_view body);

std::string num(int64_t v);
// Shortest text that reads back as the same double (Lua's tonumber and strtod agree).
std::string num(double v);

Error queue_not_found(const std::string& q);
// The status word a script returns instead of 'ok'.
Error script_error(const std::string& status, const std::string& q);
// An error reply: "Redis cannot serve right now" (unavailable) or a bug (internal).
Error reply_error(const RedisReply& r);
Error malformed();

Result<QueueInfo> parse_info(const std::string& q, const RedisReply& r);
Result<Ticket> parse_ticket(const std::string& q, const RedisReply& r);
// Splits a join script reply (one reply per join, see lua/join.lua) into per-join results; a
// failure of the whole call fails each of the joins (one per `nows` entry, each join's `now`).
// A refusal becomes rules::join_refusal's error. need_key[i] is set for a pre-queue join the
// script did not take because it was not keyed with the epoch's seed (its result is then an
// error to retry with the seed).
std::vector<Result<Ticket>> join_results(const std::string& q, const Result<RedisReply>& r,
                                         const std::vector<Millis>& nows,
                                         std::vector<bool>& need_key);

}  // namespace anteroom::redis
