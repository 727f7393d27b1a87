#pragma once
// MemoryStore: all queue state in this process (embedded mode). Events go to an EventSink
// synchronously, inside the call that made them, so seq order is commit order.
//
// Not thread-safe: use it from one thread (the process's io_context). Every coroutine completes
// without suspending.
#include <map>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/event_sink.hpp"
#include "core/position_index.hpp"
#include "core/rules.hpp"
#include "store/queue_store.hpp"
#include "store/ticket_table.hpp"

namespace anteroom {

class MemoryStore final : public QueueStore {
 public:
  MemoryStore(EventSink& sink, StoreLimits limits = {});
  ~MemoryStore() override;

  Task<PutQueueResult> put_queue(std::string q, ConfigPatch patch, Millis now) override;
  Task<QueueInfo> get_queue(std::string q) override;
  Task<std::vector<QueueInfo>> list_queues() override;
  Task<std::vector<std::string>> queue_names() override;
  Task<QueueInfo> close_queue(std::string q, Millis now) override;
  Task<Ticket> join(std::string q, JoinRequest req, Millis now) override;
  Task<Ticket> get_ticket(std::string q, std::string id, bool touch, Millis now) override;
  Task<Ticket> leave(std::string q, std::string id, Millis now) override;
  Task<Ticket> complete(std::string q, std::string id, Millis now) override;
  Task<Ok> touch(std::string q, std::vector<std::string> ids, Millis now) override;
  Task<int64_t> tick(std::string q, Millis now) override;
  Task<QueueSnapshot> snapshot(std::string q) override;
  Task<DrawPage> draw_page(std::string q, int64_t after, int64_t limit) override;
  Task<std::vector<int64_t>> places(std::string q, std::vector<std::string> ids) override;
  Task<std::vector<Invite>> create_invites(std::string q, InviteSpec spec, Millis now) override;
  Task<std::vector<Invite>> list_invites(std::string q, std::string after,
                                         int64_t limit) override;
  Task<Invite> revoke_invite(std::string q, std::string code, Millis now) override;
  Task<Ok> ping() override;

 private:
  struct Queue;
  struct Rec;
  struct Draw;
  Result<Queue*> find(const std::string& q);
  Result<Rec*> find_ticket(Queue& qu, const std::string& id);
  void emit(Queue& qu, EventType type, const Rec* r, Millis now);
  // Performs a due draw (rules::draw_due): every call that takes `now` settles first.
  void settle(Queue& qu, Millis now);
  void do_draw(Queue& qu, Millis now);
  void close(Queue& qu, Millis now);
  // The next ticket to admit: the head, or in mode random a uniformly random waiting one
  // (entrants first, in draw order).
  Rec& next_admission(Queue& qu);
  void admit(Queue& qu, Rec& r, Millis now);
  void end(Queue& qu, Rec& r, EventType why, Millis now);
  Ticket view(const Queue& qu, const Rec& r) const;
  QueueInfo info(const Queue& qu) const;
  void purge_ended(Queue& qu, Millis now);
  void forget(const std::string& q);
  // Drops the used-challenge marks whose challenge expired at or before `now`.
  void drop_pow_marks(Millis now);

  EventSink& sink_;
  StoreLimits limits_;
  std::map<std::string, std::unique_ptr<Queue>> queues_;
  int64_t open_queues_ = 0;  // queues_ not closed: what limits_.max_queues counts
  // The last seq of each forgotten queue (rules::forgettable): a queue made again under the same
  // name continues above it, so every consumer that deduplicates by seq (hub views, webhook
  // intake) takes its events as new. A few bytes per name ever forgotten.
  std::unordered_map<std::string, uint64_t> last_seq_;
  std::mt19937_64 lottery_;  // mode random; seeded from the OS CSPRNG
  // Used challenges (SPEC §8: single use): their ids, and the ids by expiry second, so the
  // marks of expired challenges go as time passes (O(1) amortised per mark; at most
  // kMaxPowTtlS + a few buckets). Challenge ids are random (128 bits): one set for all queues.
  // Fixed-size keys: ~90 bytes a mark with the set's node and bucket (a string key was ~200).
  std::unordered_set<IdKey, IdKeyHash> pow_marks_;
  std::map<Millis, std::vector<IdKey>> pow_expiry_;
};

}  // namespace anteroom
