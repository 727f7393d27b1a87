#pragma once
// What RedisStore's Lua scripts take and return: the scripts themselves (lib.lua + each
// operation, composed once per process), number formatting for their arguments, and the parsing
// of their replies into the queue model (field orders: info() and view() in lua/lib.lua).
// Pure functions over replies; thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/types.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom::redis {

struct Scripts {
  RedisScript put_queue, get_queue, close_queue, join, get_ticket, leave, complete, touch, tick,
      list_open, draw_page, places, draw_secret, create_invites, list_invites, revoke_invite;
  // On aq:queues:open alone (not composed with lib.lua): the place put_queue takes.
  RedisScript reserve_queue;
};
// Each script is its constants, then lib.lua, then its own file; built once per process. Throws
// std::logic_error if a script is missing from the binary. Two sets: `cluster` (a Redis Cluster,
// RedisOptions::cluster) switches off the upgrade path from the layout before, which touches
// keys no script declares (lua/lib.lua migrate); standalone keeps it. Different constants, so
// different SHA1s: both sets can share one server's script cache.
const Scripts& scripts(bool cluster = false);
// A script made of the constants, lib.lua and `body` (the tests use it to call lib.lua's
// functions, e.g. the rules mirrors).
RedisScript compose_script(
    std::string_view name, std::string_view body, bool cluster = false,
    RedisScript::Durability durability = RedisScript::Durability::replicated);

std::string num(int64_t v);
// Shortest text that reads back as the same double (Lua's tonumber and strtod agree).
std::string num(double v);

Error queue_not_found(const std::string& q);
// The status word a script returns instead of 'ok'.
Error script_error(const std::string& status, const std::string& q);
// An error reply: "Redis cannot serve right now" (unavailable) or a bug (internal).
Error reply_error(const RedisReply& r);
Error malformed();

// An invite record as kept in aq:{q}:inv (redis/keys.hpp invites; lua/lib.lua parse_invite):
// "uses used expires_ms skip revoked created_ms label". decode_invite: nullopt if malformed.
std::string encode_invite(const Invite& v);
std::optional<Invite> decode_invite(std::string code, std::string_view rec);
// A join's proof of work as join.lua takes it: '' for none (verdict none, no extra bits), else
// "verdict extra_bits bits id expires_ms".
std::string encode_proof(const PowProof& p);

Result<QueueInfo> parse_info(const std::string& q, const RedisReply& r);
Result<Ticket> parse_ticket(const std::string& q, const RedisReply& r);
// Splits a join script reply (one reply per join, see lua/join.lua) into per-join results; a
// failure of the whole call fails each of the joins (one per `nows` entry, each join's `now`).
// A refusal becomes rules::join_refusal's error. need_key[i] is set for a pre-queue join the
// script did not take because it was not keyed with the epoch's seed (its result is then an
// error to retry with the seed). An invite or proof-of-work refusal becomes the error of
// rules::invite_refusal / rules::pow_refusal (`proofs`: each join's proof), or pow_used.
std::vector<Result<Ticket>> join_results(const std::string& q, const Result<RedisReply>& r,
                                         const std::vector<Millis>& nows,
                                         const std::vector<const PowProof*>& proofs,
                                         std::vector<bool>& need_key);

}  // namespace anteroom::redis
