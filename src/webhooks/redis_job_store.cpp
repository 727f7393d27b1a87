#include "webhooks/redis_job_store.hpp"

#include <algorithm>

#include "core/rules.hpp"
#include "store/redis/keys.hpp"

namespace anteroom {

using redis::RedisReply;
using redis::RedisScript;

namespace {

// Key names: store/redis/keys.hpp.
std::string due_key(const std::string& q) { return redis_keys::webhook_due(q); }
std::string jobs_key(const std::string& q) { return redis_keys::webhook_jobs(q); }
std::string seen_key(const std::string& event_id) { return redis_keys::webhook_seen(event_id); }
std::string dead_key(const std::string& q) { return redis_keys::webhook_dead(q); }
const std::string kQueues(redis_keys::kWebhookQueues);

// KEYS: seen, due, jobs (one queue's). ARGV: now, ttl, then id/json pairs. Returns 0 (seen
// before), 1 (taken in) or 2 (taken in, and the queue had no job before: a claim may have just
// taken it out of aq:wh:queues, so the caller lists it again).
const RedisScript& enqueue_script() {
  static const RedisScript s(R"(
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
local was_empty = redis.call('EXISTS', KEYS[2]) == 0
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
end
if was_empty then return 2 end
return 1)");
  return s;
}
// KEYS: due, jobs (one queue's). ARGV: now, limit, lease. Returns the jobs left in the queue
// (ZCARD: 0 = the queue may leave aq:wh:queues), then the claimed jobs' JSON.
const RedisScript& claim_script() {
  static const RedisScript s(R"(
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {0}
if #ids > 0 then
  local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[3])
  for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], string.format('%d', until_ms), id) end
  for i, j in ipairs(redis.call('HMGET', KEYS[2], unpack(ids))) do
    if j then out[#out + 1] = j else redis.call('ZREM', KEYS[1], ids[i]) end
  end
end
out[1] = redis.call('ZCARD', KEYS[1])
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
// KEYS: due, jobs (one queue's). ARGV: id, json, due. A legacy job moved in; one already there
// (moved before, by another process) is left as it is.
const RedisScript& adopt_script() {
  static const RedisScript s(R"(
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1)");
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

Task<RedisReply> RedisJobStore::command(std::vector<std::string> argv) {
  auto r = co_await client_.command(std::move(argv));
  if (!r) co_return r.error();
  if (r->is_error()) co_return err(Errc::unavailable, "redis: " + r->str);
  co_return std::move(r).value();
}

void RedisJobStore::remember(const std::string& q) {
  if (std::find(queues_.begin(), queues_.end(), q) == queues_.end()) queues_.push_back(q);
}

Task<bool> RedisJobStore::enqueue(std::string queue, std::string event_id,
                                  std::vector<WebhookJob> jobs, Millis now) {
  // Listed first: a crash after this lists a queue without jobs (harmless), never jobs unlisted.
  std::vector<std::string> sadd{"SADD", kQueues, queue};
  auto listed = co_await command(std::move(sadd));
  if (!listed) co_return listed.error();
  std::vector<std::string> args{std::to_string(now), std::to_string(kSeenTtlS)};
  for (auto& j : jobs) {
    args.push_back(j.id);
    args.push_back(encode_job(j));
  }
  std::vector<std::string> keys{seen_key(event_id), due_key(queue), jobs_key(queue)};
  auto r = co_await eval(enqueue_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  const int64_t taken = r->as_int().value_or(0);
  if (taken == 2) {
    // The queue had no job: a claim_due may have found it empty and taken it out of the list
    // after the SADD above (drop_if_empty); listing it again after the jobs exist closes that.
    std::vector<std::string> relist{"SADD", kQueues, queue};
    auto again = co_await command(std::move(relist));
    if (!again) co_return again.error();
  }
  if (taken != 0) remember(queue);
  co_return taken != 0;
}

Task<Ok> RedisJobStore::refresh() {
  std::vector<std::string> smembers{"SMEMBERS", kQueues};
  auto r = co_await command(std::move(smembers));
  if (!r) co_return r.error();
  std::vector<std::string> names;
  names.reserve(r->elements.size());
  for (auto& e : r->elements) names.push_back(std::move(e.str));
  std::sort(names.begin(), names.end());  // a stable order for the round robin
  queues_ = std::move(names);
  if (cursor_ >= queues_.size()) cursor_ = 0;
  refreshed_ = std::chrono::steady_clock::now();
  ever_refreshed_ = true;
  co_return co_await move_legacy_jobs();
}

// Each legacy job: listed, copied into its queue's keys with its due time (one script, the
// queue's slot), then deleted from the legacy keys (each alone: they hash to other slots). A
// crash in between leaves it in both: delivered at least once.
Task<Ok> RedisJobStore::move_legacy_jobs() {
  std::vector<std::string> hscan{"HSCAN", std::string(redis_keys::kLegacyWebhookJobs), "0",
                                 "COUNT", std::to_string(kLegacyBatch)};
  auto scan = co_await command(std::move(hscan));
  if (!scan) co_return scan.error();
  if (scan->elements.size() != 2) co_return Ok{};
  auto& pairs = scan->elements[1].elements;
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    const std::string& id = pairs[i].str;
    const std::string& json = pairs[i + 1].str;
    auto job = decode_job(json);
    if (!job || !rules::valid_queue_name(job->queue)) continue;  // never deliverable: left as is
    std::vector<std::string> zscore{"ZSCORE", std::string(redis_keys::kLegacyWebhookDue), id};
    auto score = co_await command(std::move(zscore));
    if (!score) co_return score.error();
    std::string due = score->str.empty() ? "0" : score->str;  // no due time: due now
    std::vector<std::string> sadd{"SADD", kQueues, job->queue};
    auto listed = co_await command(std::move(sadd));
    if (!listed) co_return listed.error();
    std::vector<std::string> keys{due_key(job->queue), jobs_key(job->queue)};
    std::vector<std::string> args{id, json, due};
    auto moved = co_await eval(adopt_script(), std::move(keys), std::move(args));
    if (!moved) co_return moved.error();
    std::vector<std::string> hdel{"HDEL", std::string(redis_keys::kLegacyWebhookJobs), id};
    auto deleted = co_await command(std::move(hdel));
    if (!deleted) co_return deleted.error();
    std::vector<std::string> zrem{"ZREM", std::string(redis_keys::kLegacyWebhookDue), id};
    auto unindexed = co_await command(std::move(zrem));
    if (!unindexed) co_return unindexed.error();
    remember(job->queue);
  }
  co_return Ok{};
}

Task<Ok> RedisJobStore::drop_if_empty(const std::string& q) {
  std::vector<std::string> srem{"SREM", kQueues, q};
  auto gone = co_await command(std::move(srem));
  if (!gone) co_return gone.error();
  std::vector<std::string> zcard{"ZCARD", due_key(q)};
  auto left = co_await command(std::move(zcard));
  if (!left) co_return left.error();
  if (left->integer > 0) {
    std::vector<std::string> sadd{"SADD", kQueues, q};
    auto back = co_await command(std::move(sadd));
    if (!back) co_return back.error();
    co_return Ok{};
  }
  auto it = std::find(queues_.begin(), queues_.end(), q);
  if (it != queues_.end()) {
    if (static_cast<size_t>(it - queues_.begin()) < cursor_) --cursor_;
    queues_.erase(it);
  }
  co_return Ok{};
}

Task<std::vector<WebhookJob>> RedisJobStore::claim_due(Millis now, int64_t limit, Millis lease) {
  if (!ever_refreshed_ || std::chrono::steady_clock::now() - refreshed_ >= kRefresh) {
    auto r = co_await refresh();
    if (!r) co_return r.error();
  }
  std::vector<WebhookJob> out;
  std::vector<std::string> empty;
  const size_t visits = std::min(kQueuesPerClaim, queues_.size());
  for (size_t v = 0; v < visits && static_cast<int64_t>(out.size()) < limit; ++v) {
    if (cursor_ >= queues_.size()) cursor_ = 0;
    const std::string q = queues_[cursor_++];
    std::vector<std::string> args{std::to_string(now),
                                  std::to_string(limit - static_cast<int64_t>(out.size())),
                                  std::to_string(lease)};
    std::vector<std::string> keys{due_key(q), jobs_key(q)};
    auto r = co_await eval(claim_script(), std::move(keys), std::move(args));
    if (!r) {
      // The jobs claimed so far are leased to us: hand them out rather than let them wait.
      if (out.empty()) co_return r.error();
      co_return out;
    }
    if (r->elements.empty()) continue;
    if (r->elements[0].integer == 0) empty.push_back(q);
    for (size_t i = 1; i < r->elements.size(); ++i)
      if (auto j = decode_job(r->elements[i].str)) out.push_back(std::move(j).value());
  }
  for (auto& q : empty) (void)co_await drop_if_empty(q);  // best effort: retried next time
  co_return out;
}

Task<Ok> RedisJobStore::complete(WebhookJob job) {
  std::vector<std::string> keys{due_key(job.queue), jobs_key(job.queue)};
  std::vector<std::string> args{job.id};
  auto r = co_await eval(complete_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return Ok{};
}

Task<Ok> RedisJobStore::reschedule(WebhookJob job, Millis due) {
  std::vector<std::string> args{job.id, encode_job(job), std::to_string(due)};
  std::vector<std::string> keys{due_key(job.queue), jobs_key(job.queue)};
  auto r = co_await eval(reschedule_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return Ok{};
}

Task<Ok> RedisJobStore::bury(WebhookJob job) {
  std::vector<std::string> keys{due_key(job.queue), jobs_key(job.queue), dead_key(job.queue)};
  std::vector<std::string> args{job.id, encode_job(job), std::to_string(kDeadKept)};
  auto r = co_await eval(bury_script(), std::move(keys), std::move(args));
  if (!r) co_return r.error();
  co_return Ok{};
}

Task<std::vector<WebhookJob>> RedisJobStore::dead(std::string queue) {
  std::vector<std::string> hvals{"HVALS", dead_key(queue)};
  auto r = co_await command(std::move(hvals));
  if (!r) co_return r.error();
  std::vector<WebhookJob> out;
  for (auto& e : r->elements)
    if (auto j = decode_job(e.str)) out.push_back(std::move(j).value());
  co_return out;
}

Task<int64_t> RedisJobStore::redrive(std::string queue, Millis now) {
  auto jobs = co_await dead(queue);
  if (!jobs) co_return jobs.error();
  if (jobs->empty()) co_return 0;
  std::vector<std::string> sadd{"SADD", kQueues, queue};
  auto listed = co_await command(std::move(sadd));
  if (!listed) co_return listed.error();
  remember(queue);
  int64_t n = 0;
  for (auto& j : *jobs) {
    j.attempts = 0;
    j.first_ms = now;
    // Back into the live set first, then out of the dead list: a crash in between repeats, never
    // loses. Each command alone (all in the queue's slot).
    std::vector<std::string> hset{"HSET", jobs_key(queue), j.id, encode_job(j)};
    std::vector<std::string> zadd{"ZADD", due_key(queue), std::to_string(now), j.id};
    std::vector<std::string> hdel{"HDEL", dead_key(queue), j.id};
    for (auto* argv : {&hset, &zadd, &hdel}) {
      auto r = co_await command(std::move(*argv));
      if (!r) co_return r.error();
    }
    ++n;
  }
  co_return n;
}

}  // namespace anteroom
