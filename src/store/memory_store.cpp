#include "store/memory_store.hpp"

#include <array>
#include <deque>

namespace anteroom {

struct MemoryStore::Rec {
  Ticket t;  // position and seq are computed on read
  Millis last_seen_ms = 0;
  Millis ended_ms = 0;
  std::string dedupe_key;
};

namespace {
// Tickets by id, split into 64 tables: a table's rehash moves 1/64 of the tickets, so growing a
// line of a million never stalls the io thread for long (one table measured ~100 ms at 800k).
// Node-based: references to values stay valid as it grows.
template <class V>
class ShardedMap {
 public:
  using Map = std::unordered_map<std::string, V>;
  Map& shard(const std::string& k) { return shards_[std::hash<std::string>{}(k) & 63]; }
  V* find(const std::string& k) {
    auto& m = shard(k);
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  }
  V& operator[](const std::string& k) { return shard(k)[k]; }
  void erase(const std::string& k) { shard(k).erase(k); }

 private:
  std::array<Map, 64> shards_;
};
}  // namespace

struct MemoryStore::Queue {
  std::string name;
  QueueConfig config;
  bool closed = false;
  uint64_t seq = 0;
  uint64_t next_order = 1;
  rules::Bucket bucket;
  QueueStats stats;
  ShardedMap<Rec> tickets;
  std::map<uint64_t, Rec*> waiting;          // by join order: the head is begin()
  PositionIndex index;                       // ranks of waiting orders
  std::set<std::pair<Millis, Rec*>> unseen;  // waiting, by last_seen (abandonment)
  std::set<std::pair<Millis, Rec*>> active;  // by expiry
  std::deque<std::pair<Millis, std::string>> ended;  // for retention purge
  std::unordered_map<std::string, std::string> dedupe;  // key -> ticket id
};

MemoryStore::MemoryStore(EventSink& sink, StoreLimits limits) : sink_(sink), limits_(limits) {}
MemoryStore::~MemoryStore() = default;

Result<MemoryStore::Queue*> MemoryStore::find(const std::string& q) {
  auto it = queues_.find(q);
  if (it == queues_.end()) return err(Errc::queue_not_found, "no queue named '" + q + "'");
  return it->second.get();
}

Result<MemoryStore::Rec*> MemoryStore::find_ticket(Queue& qu, const std::string& id) {
  Rec* r = qu.tickets.find(id);
  if (!r) return err(Errc::ticket_not_found, "no such ticket in this queue");
  return r;
}

void MemoryStore::emit(Queue& qu, EventType type, const Rec* r, Millis now) {
  Event e;
  e.queue = qu.name;
  e.seq = ++qu.seq;
  e.type = type;
  e.at_ms = now;
  if (r) {
    e.ticket = r->t.id;
    e.order = r->t.order;
    e.expires_ms = r->t.expires_ms;
  }
  sink_.publish(e);
}

Ticket MemoryStore::view(const Queue& qu, const Rec& r) const {
  Ticket t = r.t;
  t.position = t.state == TicketState::waiting ? qu.index.rank(t.order) : 0;
  t.seq = qu.seq;
  return t;
}

QueueInfo MemoryStore::info(const Queue& qu) const {
  QueueInfo i;
  i.name = qu.name;
  i.config = qu.config;
  i.closed = qu.closed;
  i.seq = qu.seq;
  i.stats = qu.stats;
  i.stats.waiting = static_cast<int64_t>(qu.waiting.size());
  i.stats.active = static_cast<int64_t>(qu.active.size());
  i.stats.oldest_joined_ms = qu.waiting.empty() ? 0 : qu.waiting.begin()->second->t.joined_ms;
  return i;
}

void MemoryStore::admit(Queue& qu, Rec& r, Millis now) {
  qu.waiting.erase(r.t.order);
  qu.index.erase(r.t.order);
  qu.unseen.erase({r.last_seen_ms, &r});
  r.t.state = TicketState::active;
  r.t.admitted_ms = now;
  r.t.expires_ms = rules::expiry_of(now, qu.config);
  qu.active.insert({r.t.expires_ms, &r});
  ++qu.stats.admitted_total;
  emit(qu, EventType::admitted, &r, now);
}

void MemoryStore::end(Queue& qu, Rec& r, EventType why, Millis now) {
  if (r.t.state == TicketState::waiting) {
    qu.waiting.erase(r.t.order);
    qu.index.erase(r.t.order);
    qu.unseen.erase({r.last_seen_ms, &r});
  } else if (r.t.state == TicketState::active) {
    qu.active.erase({r.t.expires_ms, &r});
  }
  r.t.state = TicketState::ended;
  r.t.reason = end_reason_of(why);
  r.ended_ms = now;
  if (!r.dedupe_key.empty()) qu.dedupe.erase(r.dedupe_key);
  qu.ended.emplace_back(now, r.t.id);
  switch (why) {
    case EventType::left: ++qu.stats.left_total; break;
    case EventType::expired: ++qu.stats.expired_total; break;
    case EventType::completed: ++qu.stats.completed_total; break;
    case EventType::abandoned: ++qu.stats.abandoned_total; break;
    default: break;
  }
  if (why != EventType::closed) emit(qu, why, &r, now);
}

void MemoryStore::purge_ended(Queue& qu, Millis now) {
  while (!qu.ended.empty() && qu.ended.front().first + rules::kEndedRetentionMs <= now) {
    qu.tickets.erase(qu.ended.front().second);
    qu.ended.pop_front();
  }
}

Task<QueueInfo> MemoryStore::put_queue(std::string q, ConfigPatch patch, Millis now) {
  if (!rules::valid_queue_name(q))
    co_return err(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
  if (auto s = rules::validate(patch); !s) co_return s.error();
  auto it = queues_.find(q);
  if (it == queues_.end()) {
    if (static_cast<int64_t>(queues_.size()) >= limits_.max_queues)
      co_return err(Errc::too_many_queues, "the queue limit of this installation is reached");
    auto qu = std::make_unique<Queue>();
    qu->name = q;
    it = queues_.emplace(q, std::move(qu)).first;
    patch.apply_to(it->second->config);
    it->second->bucket = rules::full_bucket(it->second->config, now);
  }
  Queue& qu = *it->second;
  qu.closed = false;
  patch.apply_to(qu.config);
  emit(qu, EventType::config_changed, nullptr, now);
  co_return info(qu);
}

Task<QueueInfo> MemoryStore::get_queue(std::string q) {
  auto qu = find(q);
  if (!qu) co_return qu.error();
  co_return info(**qu);
}

Task<std::vector<std::string>> MemoryStore::queue_names() {
  std::vector<std::string> out;
  out.reserve(queues_.size());
  for (auto& [name, _] : queues_) out.push_back(name);
  co_return out;
}

Task<std::vector<QueueInfo>> MemoryStore::list_queues() {
  std::vector<QueueInfo> out;
  out.reserve(queues_.size());
  for (auto& [_, qu] : queues_) out.push_back(info(*qu));
  co_return out;
}

Task<QueueInfo> MemoryStore::close_queue(std::string q, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  if (!qu.closed) {
    qu.closed = true;
    while (!qu.waiting.empty()) end(qu, *qu.waiting.begin()->second, EventType::closed, now);
    emit(qu, EventType::closed, nullptr, now);
  }
  co_return info(qu);
}

Task<Ticket> MemoryStore::join(std::string q, std::string key, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  if (qu.closed) co_return err(Errc::queue_closed, "this queue is closed");
  if (!key.empty()) {
    if (auto d = qu.dedupe.find(key); d != qu.dedupe.end()) {
      Rec& r = *qu.tickets.find(d->second);
      co_return view(qu, r);
    }
  }
  std::string id = new_ticket_id();
  Rec& r = qu.tickets[id];
  r.t.id = id;
  r.t.queue = q;
  r.t.order = qu.next_order++;
  r.t.joined_ms = now;
  r.last_seen_ms = now;
  r.dedupe_key = key;
  if (!key.empty()) qu.dedupe[key] = id;
  bool nobody_waits = qu.waiting.empty();
  qu.waiting.emplace(r.t.order, &r);
  qu.index.insert(r.t.order);
  qu.unseen.insert({now, &r});
  emit(qu, EventType::joined, &r, now);
  if (nobody_waits &&
      rules::admission_count(qu.bucket, qu.config, static_cast<int64_t>(qu.active.size()), 1,
                             now) == 1)
    admit(qu, r, now);
  Ticket t = view(qu, r);
  t.created = true;
  co_return t;
}

Task<Ticket> MemoryStore::get_ticket(std::string q, std::string id, bool touch, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  auto r = find_ticket(qu, id);
  if (!r) co_return r.error();
  Rec& rec = **r;
  if (touch && rec.t.state == TicketState::waiting && now > rec.last_seen_ms) {
    qu.unseen.erase({rec.last_seen_ms, &rec});
    rec.last_seen_ms = now;
    qu.unseen.insert({now, &rec});
  }
  co_return view(qu, rec);
}

Task<Ticket> MemoryStore::leave(std::string q, std::string id, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  auto r = find_ticket(qu, id);
  if (!r) co_return r.error();
  if ((*r)->t.state != TicketState::ended) end(qu, **r, EventType::left, now);
  co_return view(qu, **r);
}

Task<Ticket> MemoryStore::complete(std::string q, std::string id, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  auto r = find_ticket(qu, id);
  if (!r) co_return r.error();
  if ((*r)->t.state == TicketState::waiting)
    co_return err(Errc::bad_request, "a waiting ticket cannot complete; it was never admitted");
  if ((*r)->t.state == TicketState::active) end(qu, **r, EventType::completed, now);
  co_return view(qu, **r);
}

Task<Ok> MemoryStore::touch(std::string q, std::vector<std::string> ids, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  for (auto& id : ids) {
    Rec* found = qu.tickets.find(id);
    if (!found) continue;
    Rec& r = *found;
    if (r.t.state != TicketState::waiting || now <= r.last_seen_ms) continue;
    qu.unseen.erase({r.last_seen_ms, &r});
    r.last_seen_ms = now;
    qu.unseen.insert({now, &r});
  }
  co_return Ok{};
}

Task<int64_t> MemoryStore::tick(std::string q, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  uint64_t before = qu.seq;
  while (!qu.active.empty() && qu.active.begin()->first <= now)
    end(qu, *qu.active.begin()->second, EventType::expired, now);
  while (!qu.unseen.empty() && rules::abandoned(qu.unseen.begin()->first, qu.config, now))
    end(qu, *qu.unseen.begin()->second, EventType::abandoned, now);
  int64_t n = rules::admission_count(qu.bucket, qu.config, static_cast<int64_t>(qu.active.size()),
                                     static_cast<int64_t>(qu.waiting.size()), now);
  for (int64_t i = 0; i < n; ++i) admit(qu, *qu.waiting.begin()->second, now);
  purge_ended(qu, now);
  co_return static_cast<int64_t>(qu.seq - before);
}

Task<QueueSnapshot> MemoryStore::snapshot(std::string q) {
  auto found = find(q);
  if (!found) co_return found.error();
  QueueSnapshot s;
  s.info = info(**found);
  s.waiting_orders.reserve((*found)->waiting.size());
  for (auto& [order, _] : (*found)->waiting) s.waiting_orders.push_back(order);
  co_return s;
}

Task<Ok> MemoryStore::ping() { co_return Ok{}; }

}  // namespace anteroom
