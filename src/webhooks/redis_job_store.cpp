#include "webhooks/redis_job_store.hpp"

#include "store/redis/keys.hpp"

namespace anteroom {

using redis::RedisReply;
using redis::RedisScript;

namespace {

// Key names: store/redis/keys.hpp.
constexpr const char* kDue = redis_keys::kWebhookDue;
constexpr const char* kJobs = redis_keys::kWebhookJobs;
std::string seen_key(const std::string& event_id) { return redis_keys::webhook_seen(event_id); }
std::string dead_key(const std::string& q) { return redis_keys::webhook_dead(q); }

// KEYS: seen, due, jobs. ARGV: now, ttl, then id/json pairs.
const RedisScript& enqueue_script() {
  static const RedisScript s(R"(
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
end
return 1)");
  return s;
}
// KEYS: due, jobs. ARGV: now, limit, lease. Returns the claimed jobs' JSON.
const RedisScript& claim_script() {
  static const RedisScript s(R"(
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids == 0 then return {} end
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], string.format('%d', until_ms), id) end
local out = {}
for i, j in ipairs(redis.call('HMGET', KEYS[2], unpack(ids))) do
  if j then out[#out + 1] = j else redis.call('ZREM', KEYS[1], ids[i]) end
end
return out)");
  return s;
}
// KEYS: due, jobs. ARGV: id.
const RedisScript& complete_script() {
  static const RedisScript s(R"(
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1]))");
  return s;
}
// KEYS: due, jobs. ARGV: id, json, due. Only a job still present is rescheduled.
const RedisScript& reschedule_script() {
  static const RedisScript s(R"(
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]))");
  return s;
}
// KEYS: due, jobs, dead. ARGV: id, json, cap.
const RedisScript& bury_script() {
  static const RedisScript s(R"(
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[3]) then return 0 end
return redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]))");
  return s;
}
}  // namespace

Task<RedisReply> RedisJobStore::eval(const RedisScript& s, std::vector<std::string> keys,
                                     std::vector<std::string> args) {
  auto r = co_await client_.eval(s, std::move(keys), std::move(args));
  if (!r) co_return r.error();
  if (r->is_error()) co_return err(Errc::unavailable, "redis: " + r->str);
  co_return std::move(r).value();
}

Task<bool> RedisJobStore::enqueue(std::string, std::string event_id, std::vector<WebhookJob> jobs,
                                  Millis now) {
  std::vector<std::string> args{std::to_string(now), std::to_string(kSeenTtlS)};
  for (auto& j : jobs) {
    args.push_back(j.id);
    args.push_back(encode_job(j));
  }
  std::vector<std::string> keys{seen_key(event_id), kDue, kJobs};
  auto r = co_await eval(enqueue_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return r->as_int().value_or(0) == 1;
}

Task<std::vector<WebhookJob>> RedisJobStore::claim_due(Millis now, int64_t limit, Millis lease) {
  std::vector<std::string> keys{kDue, kJobs};
  std::vector<std::string> args{std::to_string(now), std::to_string(limit), std::to_string(lease)};
  auto r = co_await eval(claim_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  std::vector<WebhookJob> out;
  for (auto& e : r->elements)
    if (auto j = decode_job(e.str)) out.push_back(std::move(j).value());
  co_return out;
}

Task<Ok> RedisJobStore::complete(WebhookJob job) {
  std::vector<std::string> keys{kDue, kJobs}, args{job.id};
  auto r = co_await eval(complete_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return Ok{};
}

Task<Ok> RedisJobStore::reschedule(WebhookJob job, Millis due) {
  std::vector<std::string> keys{kDue, kJobs}, args{job.id, encode_job(job), std::to_string(due)};
  auto r = co_await eval(reschedule_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return Ok{};
}

Task<Ok> RedisJobStore::bury(WebhookJob job) {
  std::vector<std::string> keys{kDue, kJobs, dead_key(job.queue)};
  std::vector<std::string> args{job.id, encode_job(job), std::to_string(kDeadKept)};
  auto r = co_await eval(bury_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return Ok{};
}

Task<std::vector<WebhookJob>> RedisJobStore::dead(std::string queue) {
  std::vector<std::string> argv{"HVALS", dead_key(queue)};
  auto r = co_await client_.command(std::move(argv));
  if (!r) co_return r.error();
  std::vector<WebhookJob> out;
  for (auto& e : r->elements)
    if (auto j = decode_job(e.str)) out.push_back(std::move(j).value());
  co_return out;
}

Task<int64_t> RedisJobStore::redrive(std::string queue, Millis now) {
  auto jobs = co_await dead(queue);
  if (!jobs) co_return jobs.error();
  int64_t n = 0;
  for (auto& j : *jobs) {
    j.attempts = 0;
    j.first_ms = now;
    // Back into the live set first, then out of the dead list: a crash in between repeats, never loses.
    std::vector<std::string> hset{"HSET", kJobs, j.id, encode_job(j)};
    std::vector<std::string> zadd{"ZADD", kDue, std::to_string(now), j.id};
    std::vector<std::string> hdel{"HDEL", dead_key(queue), j.id};
    for (auto* argv : {&hset, &zadd, &hdel}) {
      auto r = co_await client_.command(std::move(*argv));
      if (!r) co_return r.error();
    }
    ++n;
  }
  co_return n;
}

}  // namespace anteroom
