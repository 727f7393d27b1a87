// RedisStore's join batching. Per queue: the join calls in flight (at most kJoinCallsInFlight)
// and the joins waiting for one of them. A join goes out at once, alone, when nothing is in
// flight; otherwise it waits, and the waiting joins go out together (at most kJoinBatch per call)
// when a call is answered, or as soon as kJoinBatchNoWait of them wait and a second call may be
// in flight. The coroutine that sends a batch (its leader) answers the others of it; when its
// reply comes it first wakes the leader of the next batch, so the next call goes out before the
// answers are handled. Nobody waits on a timer: a batch is what arrived while Redis was busy.
//
// Everything here runs on the store's one thread (the io thread): no lock. A waiting join is an
// entry in its queue's line pointing at a Waiter in the waiting coroutine's own frame; it is
// woken by cancelling the Waiter's timer (Asio's awaitable "condition variable"), which resumes
// it through the executor, in the order the wakes were made.
//
// Pre-queue joins are keyed here: each join carries draw::key(seed, draw::entry_id(id)) made
// with the queue's cached seed (Keying), and the call carries the seed's commitment. The script
// takes a pre-queue join only if that commitment is the epoch's; otherwise ('need_key': no
// cache yet, or the queue was reopened with a new seed) the leader fetches the seed once and
// sends those joins again, before answering anyone of the batch.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "core/rules.hpp"
#include "draw/draw.hpp"
#include "store/redis/keys.hpp"
#include "store/redis/script_io.hpp"
#include "store/redis_store.hpp"

namespace anteroom {

namespace asio = boost::asio;

// A waiting join, in its coroutine's frame: woken with its result, or with a batch to send.
struct RedisStore::JoinWaiter {
  explicit JoinWaiter(const asio::any_io_executor& ex)
      : wake(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;
  std::optional<Result<Ticket>> result;  // answered
  std::vector<JoinEntry> lead;           // else: send this batch (it holds our entry)
  void rouse() { wake.cancel(); }
};

// The batch that may go out now (counted as in flight), or none. Keeps these invariants:
// nothing in flight => nobody waits; fewer than kJoinCallsInFlight in flight => fewer than
// kJoinBatchNoWait wait. So a join that arrives and can go is always in the batch taken.
std::vector<RedisStore::JoinEntry> RedisStore::JoinLine::take() {
  const size_t n = waiting.size();
  if (n == 0) return {};
  if (in_flight > 0 && (in_flight >= kJoinCallsInFlight || n < kJoinBatchNoWait)) return {};
  ++in_flight;
  std::vector<JoinEntry> batch;
  if (n <= kJoinBatch) {
    batch.swap(waiting);
  } else {
    auto cut = waiting.begin() + static_cast<std::ptrdiff_t>(kJoinBatch);
    batch.assign(std::make_move_iterator(waiting.begin()), std::make_move_iterator(cut));
    waiting.erase(waiting.begin(), cut);
  }
  return batch;
}

Task<Ticket> RedisStore::join(std::string q, JoinRequest req, Millis now) {
  std::string dedupe_key = std::move(req.dedupe_key);
  if (!rules::valid_queue_name(q)) co_return redis::queue_not_found(q);
  // A join in line is not cancellable (others' batches point at it): refuse a cancelled caller
  // before it gets in line. Nothing suspends from here to the wait below.
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none)
    co_return err(Errc::unavailable, "join cancelled");
  JoinWaiter me(co_await asio::this_coro::executor);
  auto& line = joins_[q];
  line.waiting.push_back(JoinEntry{now, new_ticket_id(), std::move(dedupe_key),
                                   std::move(req.invite), std::move(req.pow), &me});
  // Nothing in flight for this queue (or enough waiting for a second call): go out now.
  std::vector<JoinEntry> batch = line.take();
  if (batch.empty()) {
    // Wait to be answered by a later call, or to be woken to send one; only rouse() ends this.
    (void)co_await me.wake.async_wait(asio::bind_cancellation_slot(
        asio::cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
    if (me.result) co_return std::move(*me.result);
    batch = std::move(me.lead);
  }
  for (auto& e : batch)
    if (e.waiter == &me) e.waiter = nullptr;  // the leader: answered by lead_joins' return
  co_return co_await lead_joins(std::move(q), std::move(batch));
}

std::vector<std::string> RedisStore::join_args(const std::string& q,
                                               const std::vector<JoinEntry>& batch) {
  auto k = keying_.find(q);
  const bool keyed = k != keying_.end() && !k->second.commit.empty();
  std::vector<std::string> args;
  args.reserve(1 + 6 * batch.size());
  args.push_back(keyed ? k->second.commit : std::string());
  for (auto& e : batch) {
    args.push_back(redis::num(e.now));
    args.push_back(e.id);
    args.push_back(e.key);
    if (keyed) {
      auto dk = draw::key(k->second.seed, draw::entry_id(e.id));
      args.emplace_back(reinterpret_cast<const char*>(dk.data()), dk.size());
    } else {
      args.emplace_back();
    }
    args.push_back(e.invite);
    args.push_back(redis::encode_proof(e.pow));
  }
  return args;
}

Task<Ok> RedisStore::fetch_keying(const std::string& q) {
  std::vector<std::string> none;
  auto r = co_await run(scripts().draw_secret, q, std::move(none));
  if (!r) co_return r.error();
  if (r->elements.size() != 3) co_return redis::malformed();
  Keying k;
  k.commit = r->elements[1].str;
  if (!k.commit.empty()) {
    auto seed = draw::from_hex(r->elements[2].str);
    if (!seed || draw::commitment(*seed) != k.commit) co_return redis::malformed();
    k.seed = *seed;
  }
  keying_[q] = std::move(k);
  co_return Ok{};
}

Task<Ticket> RedisStore::lead_joins(std::string q, std::vector<JoinEntry> batch) {
  auto args = join_args(q, batch);
  auto r =
      co_await client_.eval(scripts().join, redis_keys::script_keys(q), std::move(args));
  // Wake the next batch's leader first: its call goes out before these answers are handled.
  auto line = joins_.find(q);
  --line->second.in_flight;
  std::vector<JoinEntry> next = line->second.take();
  if (line->second.in_flight == 0) joins_.erase(line);
  if (!next.empty()) {
    JoinWaiter* leader = next.front().waiter;
    leader->lead = std::move(next);
    leader->rouse();
  }
  std::vector<Millis> nows;
  std::vector<const PowProof*> proofs;
  nows.reserve(batch.size());
  for (auto& e : batch) {
    nows.push_back(e.now);
    proofs.push_back(&e.pow);
  }
  std::vector<bool> need_key;
  auto results = redis::join_results(q, r, nows, proofs, need_key);
  // Pre-queue joins the script did not take: fetch the seed, send them again (once).
  std::vector<size_t> again;
  for (size_t i = 0; i < batch.size(); ++i)
    if (need_key[i]) again.push_back(i);
  if (!again.empty()) {
    auto fetched = co_await fetch_keying(q);
    std::vector<JoinEntry> retry;
    std::vector<Millis> retry_nows;
    std::vector<const PowProof*> retry_proofs;
    for (size_t i : again) {
      retry.push_back(JoinEntry{batch[i].now, batch[i].id, batch[i].key, batch[i].invite,
                                batch[i].pow, nullptr});
      retry_nows.push_back(batch[i].now);
      retry_proofs.push_back(&batch[i].pow);
    }
    Result<redis::RedisReply> r2;
    if (!fetched)
      r2 = fetched.error();
    else
      r2 = co_await client_.eval(scripts().join, redis_keys::script_keys(q),
                                 join_args(q, retry));
    std::vector<bool> still;
    auto results2 = redis::join_results(q, r2, retry_nows, retry_proofs, still);
    for (size_t j = 0; j < again.size(); ++j) results[again[j]] = std::move(results2[j]);
  }
  // A new ticket in the line (not the pre-queue, not a skipper, who may join either): the queue
  // takes no keyed joins now, so later joins skip the key (a new pre-queue, after a reopen,
  // answers 'need_key' and keys them again).
  for (auto& t : results)
    if (t && t->created && !t->entrant && !t->skip) {
      keying_.erase(q);
      break;
    }
  size_t self = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].waiter) {
      self = i;
      continue;
    }
    batch[i].waiter->result = std::move(results[i]);
    batch[i].waiter->rouse();
  }
  co_return std::move(results[self]);
}

}  // namespace anteroom
