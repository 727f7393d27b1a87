#include "store/memory_store.hpp"


#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include "draw/draw.hpp"

namespace anteroom {

// One ticket: ~130 bytes in the table's pool plus a 16-byte slot (the hot path of a flash sale
// is a million of these being made; small records and one cache miss per join keep it fast).
struct MemoryStore::Rec {
  IdKey id;
  TicketState state = TicketState::waiting;
  EndReason reason = EndReason::none;
  uint64_t order = 0;
  Millis joined_ms = 0, admitted_ms = 0, expires_ms = 0;
  Millis last_seen_ms = 0;
  std::string dedupe_key;
  // A pre-queue entrant: the queue epoch it entered in (0: not an entrant), and its place in
  // that epoch's draw (0 until drawn).
  uint32_t entrant_epoch = 0;
  uint32_t place = 0;
  uint32_t pre_index = 0;  // in the pre-queue: its slot in Draw::pre
  Rec* seen_prev = nullptr;  // the queue's unseen list (waiting tickets by last_seen)
  Rec* seen_next = nullptr;
};

namespace {
// The waiting line by join order. Joins append (orders only grow); admissions take the head;
// a ticket leaving from the middle leaves a hole that the head skips. O(1) each.
template <class T>
class Line {
 public:
  void push_back(uint64_t order, T* v) {
    if (slots_.empty()) base_ = order;
    slots_.resize(static_cast<size_t>(order - base_));  // (no gap unless orders were skipped)
    slots_.push_back(v);
    ++size_;
  }
  void erase(uint64_t order) {
    if (order < base_ || order - base_ >= slots_.size() || !slots_[order - base_]) return;
    slots_[order - base_] = nullptr;
    --size_;
    while (!slots_.empty() && !slots_.front()) {
      slots_.pop_front();
      ++base_;
    }
  }
  T* front() const { return size_ ? slots_.front() : nullptr; }
  T* at(uint64_t order) const {
    return order < base_ || order - base_ >= slots_.size() ? nullptr : slots_[order - base_];
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  template <class F>
  void each(F f) const {
    for (T* v : slots_)
      if (v) f(*v);
  }

 private:
  std::deque<T*> slots_;
  uint64_t base_ = 0;
  size_t size_ = 0;
};
}  // namespace

// One epoch's draw (README "MemoryStore: the on-sale"). The pre-queue is kept in arrival order with
// each entrant's key (made at its join), and sorted once at the draw (see do_draw for its cost).
struct MemoryStore::Draw {
  struct Entrant {
    draw::Key key;
    MemoryStore::Rec* r;  // null once it left: a record may be purged and its memory reused
  };
  DrawState state = DrawState::none;
  draw::Seed seed{};
  std::string commitment;
  int64_t entrants = 0;  // prequeue: in the pre-queue now; drawn/void: at the draw/close
  uint64_t base = 0;     // drawn: the entrant at place p has order base + p
  Millis drawn_at = 0;
  std::vector<Entrant> pre;  // prequeue: every entry so far, in arrival order
  std::vector<IdKey> list;   // drawn: ticket ids by place (the published order), kept while closed
};

struct MemoryStore::Queue {
  std::string name;
  uint32_t epoch = 1;  // +1 per reopen: a new draw
  QueueConfig config;
  bool closed = false;
  Millis closed_ms = 0;  // when it was last closed (rules::forgettable)
  uint64_t seq = 0;
  uint64_t next_order = 1;
  rules::Bucket bucket;
  QueueStats stats;
  TicketTable<Rec> tickets;
  Line<Rec> waiting;                         // by join order: the head is front()
  PositionIndex index;                       // ranks of waiting orders
  // Skip-the-line tickets (SPEC §8): orders rules::kSkipOrder + n, waiting ahead of the whole
  // line (drawn entrants included), first come first served. Their own line and index: the
  // line's index is a window over nearby orders and never sees one.
  Line<Rec> skippers;
  PositionIndex skip_index;
  uint64_t skip_orders = 0;  // the last n given: never reused in the queue's life
  // Invite codes by code (list_invites pages in code order); kept until the queue is forgotten.
  std::map<std::string, Invite> invites;
  Rec* unseen_head = nullptr;                // waiting, by last_seen (abandonment): oldest first
  Rec* unseen_tail = nullptr;
  std::set<std::pair<Millis, Rec*>> active;  // by expiry
  std::deque<std::pair<Millis, IdKey>> ended;  // for retention purge
  std::unordered_map<std::string, IdKey> dedupe;  // key -> ticket id
  Draw draw;

  // In this epoch's pre-queue, not yet drawn.
  bool in_prequeue(const Rec& r) const {
    return r.state == TicketState::waiting && r.entrant_epoch == epoch && r.place == 0;
  }

  // Touches go to the back, so the list stays in last_seen order (a wall clock stepping back
  // only delays an abandonment by the step).
  void seen(Rec& r, Millis now) {
    r.last_seen_ms = now;
    r.seen_prev = unseen_tail;
    r.seen_next = nullptr;
    (unseen_tail ? unseen_tail->seen_next : unseen_head) = &r;
    unseen_tail = &r;
  }
  void unseen_erase(Rec& r) {
    (r.seen_prev ? r.seen_prev->seen_next : unseen_head) = r.seen_next;
    (r.seen_next ? r.seen_next->seen_prev : unseen_tail) = r.seen_prev;
    r.seen_prev = r.seen_next = nullptr;
  }
  // Leaves the waiting line (admitted or ended).
  void unwait(Rec& r) {
    if (rules::is_skip(r.order)) {
      skippers.erase(r.order);
      skip_index.erase(r.order);
    } else {
      waiting.erase(r.order);
      index.erase(r.order);
    }
    unseen_erase(r);
  }
  // Position of a waiting ticket: skippers first, then the line (drawn entrants, then the rest).
  int64_t position(uint64_t order) const {
    return rules::is_skip(order) ? skip_index.rank(order) : skip_index.size() + index.rank(order);
  }
  int64_t waiting_count() const {
    return static_cast<int64_t>(waiting.size() + skippers.size());
  }
};

namespace {
std::mt19937_64 seeded_lottery() {
  auto s = draw::new_seed();
  std::seed_seq seq(s.begin(), s.end());
  return std::mt19937_64(seq);
}
}  // namespace

MemoryStore::MemoryStore(EventSink& sink, StoreLimits limits)
    : sink_(sink), limits_(limits), lottery_(seeded_lottery()) {}
MemoryStore::~MemoryStore() = default;

Result<MemoryStore::Queue*> MemoryStore::find(const std::string& q) {
  auto it = queues_.find(q);
  if (it == queues_.end()) return err(Errc::queue_not_found, "no queue named '" + q + "'");
  return it->second.get();
}

Result<MemoryStore::Rec*> MemoryStore::find_ticket(Queue& qu, const std::string& id) {
  auto key = IdKey::of(id);
  Rec* r = key ? qu.tickets.find(*key) : nullptr;
  if (!r) return err(Errc::ticket_not_found, "no such ticket in this queue");
  return r;
}

void MemoryStore::emit(Queue& qu, EventType type, const Rec* r, Millis now) {
  Event e;
  e.queue = qu.name;
  e.seq = ++qu.seq;
  e.type = type;
  e.at_ms = now;
  if (type == EventType::joined || type == EventType::entered) ++qu.stats.joined_total;
  if (r) {
    e.ticket = r->id.str();
    e.order = r->order;
    e.expires_ms = r->expires_ms;
  }
  sink_.publish(e);
}

Ticket MemoryStore::view(const Queue& qu, const Rec& r) const {
  Ticket t;
  t.id = r.id.str();
  t.queue = qu.name;
  t.state = r.state;
  t.reason = r.reason;
  t.order = r.order;
  t.joined_ms = r.joined_ms;
  t.admitted_ms = r.admitted_ms;
  t.expires_ms = r.expires_ms;
  t.position = r.state == TicketState::waiting && !qu.in_prequeue(r) ? qu.position(r.order) : 0;
  t.seq = qu.seq;
  t.entrant = r.entrant_epoch != 0;
  t.place = r.place;
  t.skip = rules::is_skip(r.order);
  return t;
}

QueueInfo MemoryStore::info(const Queue& qu) const {
  QueueInfo i;
  i.name = qu.name;
  i.config = qu.config;
  i.closed = qu.closed;
  i.seq = qu.seq;
  i.stats = qu.stats;
  i.stats.waiting = qu.waiting_count();
  i.stats.active = static_cast<int64_t>(qu.active.size());
  Millis oldest = 0;
  for (const Rec* head : {qu.waiting.front(), qu.skippers.front()})
    if (head && (!oldest || head->joined_ms < oldest)) oldest = head->joined_ms;
  i.stats.oldest_joined_ms = oldest;
  i.draw.state = qu.draw.state;
  i.draw.commitment = qu.draw.commitment;
  i.draw.entrants = qu.draw.entrants;
  i.draw.base = qu.draw.base;
  i.draw.drawn_at_ms = qu.draw.drawn_at;
  return i;
}

void MemoryStore::admit(Queue& qu, Rec& r, Millis now) {
  qu.unwait(r);
  r.state = TicketState::active;
  r.admitted_ms = now;
  r.expires_ms = rules::expiry_of(now, qu.config);
  qu.active.insert({r.expires_ms, &r});
  ++qu.stats.admitted_total;
  emit(qu, EventType::admitted, &r, now);
}

void MemoryStore::end(Queue& qu, Rec& r, EventType why, Millis now) {
  if (qu.in_prequeue(r) && qu.draw.state == DrawState::prequeue) {
    --qu.draw.entrants;
    qu.draw.pre[r.pre_index].r = nullptr;
  }
  if (r.state == TicketState::waiting) {
    qu.unwait(r);
  } else if (r.state == TicketState::active) {
    qu.active.erase({r.expires_ms, &r});
  }
  r.state = TicketState::ended;
  r.reason = end_reason_of(why);
  if (!r.dedupe_key.empty()) qu.dedupe.erase(r.dedupe_key);
  qu.ended.emplace_back(now, r.id);
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

void MemoryStore::settle(Queue& qu, Millis now) {
  if (rules::draw_due(qu.config, qu.draw.state, now)) do_draw(qu, now);
}

void MemoryStore::do_draw(Queue& qu, Millis now) {
  Draw& d = qu.draw;
  // The draw's order. Sorted as (first 8 key bytes big-endian, entry index) pairs rather than as
  // entries, with no ticket lookups (entries point at their records): first a counting sort by
  // the top 16 bits (keys are uniform: ~n/65536 a bucket), then each bucket by the whole rule
  // (prefix, whole key, entry id). Measured for a million entrants on this 2-core machine under
  // load (average ~8): ~0.5 s for the whole draw, was ~1.3 s sorting entries after a lookup each.
  using Pair = std::pair<uint64_t, uint32_t>;
  std::vector<Pair> keyed;
  keyed.reserve(d.pre.size());
  for (size_t i = 0; i < d.pre.size(); ++i) {
    if (!d.pre[i].r) continue;  // left or abandoned before the draw
    uint64_t prefix = 0;
    for (int b = 0; b < 8; ++b) prefix = prefix << 8 | d.pre[i].key[b];
    keyed.emplace_back(prefix, static_cast<uint32_t>(i));
  }
  std::vector<uint32_t> start((1 << 16) + 1, 0);
  for (const Pair& p : keyed) ++start[(p.first >> 48) + 1];
  for (size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  std::vector<Pair> by_key(keyed.size());
  {
    std::vector<uint32_t> next(start.begin(), start.end() - 1);
    for (const Pair& p : keyed) by_key[next[p.first >> 48]++] = p;
  }
  keyed = {};
  auto before = [&d](const Pair& a, const Pair& b) {
    if (a.first != b.first) return a.first < b.first;
    const Draw::Entrant& x = d.pre[a.second];
    const Draw::Entrant& y = d.pre[b.second];
    return draw::before(x.key, draw::entry_id(x.r->id.str()), y.key,
                        draw::entry_id(y.r->id.str()));
  };
  for (size_t b = 0; b + 1 < start.size(); ++b)
    if (start[b + 1] - start[b] > 1)
      std::sort(by_key.begin() + start[b], by_key.begin() + start[b + 1], before);
  d.base = qu.next_order - 1;
  d.list.clear();
  d.list.reserve(by_key.size());
  // Every order in the line is below base + 1 (orders only grow), so the entrants append.
  const bool fresh = qu.index.size() == 0;
  std::vector<uint64_t> orders;
  if (fresh) orders.reserve(by_key.size());
  for (size_t i = 0; i < by_key.size(); ++i) {
    // Entries and records are visited in key order, i.e. at random: fetch ahead.
    if (i + 16 < by_key.size()) __builtin_prefetch(&d.pre[by_key[i + 16].second]);
    if (i + 8 < by_key.size()) __builtin_prefetch(d.pre[by_key[i + 8].second].r, 1);
    Rec& r = *d.pre[by_key[i].second].r;
    r.place = static_cast<uint32_t>(i + 1);
    r.order = d.base + i + 1;
    qu.waiting.push_back(r.order, &r);
    if (fresh) {
      orders.push_back(r.order);
    } else {
      qu.index.insert(r.order);
    }
    d.list.push_back(r.id);
  }
  if (fresh) qu.index.assign(orders);
  qu.next_order += by_key.size();
  d.pre.clear();
  d.pre.shrink_to_fit();
  d.state = DrawState::drawn;
  d.entrants = static_cast<int64_t>(by_key.size());
  d.drawn_at = now;
  Event e;
  e.queue = qu.name;
  e.seq = ++qu.seq;
  e.type = EventType::drawn;
  e.order = d.base;
  e.at_ms = now;
  e.expires_ms = d.entrants;  // (wire "exp": the number of entrants)
  sink_.publish(e);
}

Task<PutQueueResult> MemoryStore::put_queue(std::string q, ConfigPatch patch, Millis now) {
  if (!rules::valid_queue_name(q))
    co_return err(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
  if (auto s = rules::validate(patch); !s) co_return s.error();
  auto it = queues_.find(q);
  bool created = it == queues_.end();
  // The merged schedule, and whether it may change now (nothing is changed before both pass).
  QueueConfig merged = created ? QueueConfig{} : it->second->config;
  patch.apply_to(merged);
  if (auto s = rules::validate_schedule(merged); !s) co_return s.error();
  if (!created) {
    settle(*it->second, now);  // a PUT at or after opens_at finds the draw done
    if (auto s = rules::check_schedule_change(info(*it->second), patch); !s) co_return s.error();
  }
  // Only open queues count toward the limit: creating one or reopening a closed one needs a place.
  bool opening = created || it->second->closed;
  if (opening && open_queues_ >= limits_.max_queues)
    co_return err(Errc::too_many_queues, "the queue limit of this installation is reached");
  if (opening) ++open_queues_;
  if (created) {
    auto qu = std::make_unique<Queue>();
    qu->name = q;
    if (auto last = last_seq_.find(q); last != last_seq_.end()) {
      qu->seq = last->second;  // made again after it was forgotten: its events follow the old ones
      last_seq_.erase(last);
    }
    it = queues_.emplace(q, std::move(qu)).first;
    patch.apply_to(it->second->config);
    it->second->bucket = rules::full_bucket(it->second->config, now);
  }
  Queue& qu = *it->second;
  if (qu.closed) {  // reopened: a new epoch, a new draw (the old one is no longer served)
    ++qu.epoch;
    qu.draw = Draw{};
  }
  qu.closed = false;
  patch.apply_to(qu.config);
  if (qu.config.opens_at && qu.draw.state == DrawState::none) {
    // The epoch's seed, made before its first entrant; only its commitment is shown until the
    // draw. Never replaced within the epoch (moving opens_at keeps it).
    qu.draw.seed = draw::new_seed();
    qu.draw.commitment = draw::commitment(qu.draw.seed);
    qu.draw.state = DrawState::prequeue;
  }
  emit(qu, EventType::config_changed, nullptr, now);
  settle(qu, now);
  PutQueueResult r{info(qu)};
  r.created = created;
  co_return r;
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

void MemoryStore::close(Queue& qu, Millis now) {
  if (qu.closed) return;
  qu.closed = true;
  qu.closed_ms = now;
  --open_queues_;
  if (qu.draw.state == DrawState::prequeue) {
    // Closed before opens_at: no draw will happen (the seed is never shown).
    qu.draw.state = DrawState::void_;
    for (auto& e : qu.draw.pre)
      if (e.r) end(qu, *e.r, EventType::closed, now);
    qu.draw.pre.clear();
    qu.draw.pre.shrink_to_fit();
  }
  while (!qu.skippers.empty()) end(qu, *qu.skippers.front(), EventType::closed, now);
  while (!qu.waiting.empty()) end(qu, *qu.waiting.front(), EventType::closed, now);
  emit(qu, EventType::closed, nullptr, now);
}

Task<QueueInfo> MemoryStore::close_queue(std::string q, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  settle(qu, now);
  close(qu, now);
  co_return info(qu);
}

Task<Ticket> MemoryStore::join(std::string q, JoinRequest req, Millis now) {
  std::string key = std::move(req.dedupe_key);
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  settle(qu, now);
  const rules::Phase ph = rules::phase(qu.config, qu.draw.state, now);
  // closes_at reached: refused with the time even before a tick performs the close.
  if (ph == rules::Phase::closed)
    co_return rules::join_refusal(rules::JoinRule::refuse_closed, qu.config, now);
  if (qu.closed) co_return err(Errc::queue_closed, "this queue is closed");
  if (!key.empty()) {
    if (auto d = qu.dedupe.find(key); d != qu.dedupe.end()) {
      Rec& r = *qu.tickets.find(d->second);
      co_return view(qu, r);
    }
  }
  const rules::JoinRule rule = rules::join_rule(ph, qu.config.mode);
  if (rule != rules::JoinRule::enter_prequeue && rule != rules::JoinRule::join_line)
    co_return rules::join_refusal(rule, qu.config, now);
  // SPEC §8, in the order of QueueStore::join; nothing below is consumed unless all pass.
  Invite* inv = nullptr;
  if (req.invite.empty()) {
    if (qu.config.invite_only)
      co_return err(Errc::invite_required, "this queue is invite-only: a join needs a code");
  } else {
    auto it = qu.invites.find(req.invite);
    inv = it == qu.invites.end() ? nullptr : &it->second;
    if (auto refused = rules::invite_refusal(inv, now)) co_return *refused;
  }
  const int bits = rules::pow_required_bits(qu.config.pow, req.pow.extra_bits);
  if (auto refused = rules::pow_refusal(bits, req.pow)) co_return *refused;
  if (bits > 0) {  // (a queue needing no proof ignores one: its challenge is not marked)
    drop_pow_marks(now);
    auto mark = IdKey::of(req.pow.id);  // (a valid proof's id is 22 characters)
    if (!mark) {
      PowProof malformed;
      malformed.verdict = PowVerdict::invalid;
      co_return *rules::pow_refusal(bits, malformed);
    }
    if (pow_marks_.contains(*mark))
      co_return Error{Errc::pow_used, "this challenge was already used: solve a new one",
                      {{"bits", std::to_string(bits)}}};
    if (static_cast<int64_t>(pow_marks_.size()) >= limits_.pow_marks)
      co_return err(Errc::over_capacity, "too many proofs of work in flight; retry later");
    pow_marks_.insert(*mark);
    // Bucketed by the second (rounded up): dropped once that second is past.
    pow_expiry_[(req.pow.expires_ms + 999) / 1000].push_back(*mark);
  }
  if (inv) ++inv->used;
  IdKey id = *IdKey::of(new_ticket_id());
  Rec& r = qu.tickets.add(id);
  r.joined_ms = now;
  if (inv && inv->skip) {
    // Ahead of the line, in the pre-queue too (not an entrant: no place in the draw).
    r.order = rules::kSkipOrder + ++qu.skip_orders;
    r.dedupe_key = key;
    if (!key.empty()) qu.dedupe[std::move(key)] = id;
    qu.seen(r, now);
    qu.skippers.push_back(r.order, &r);
    qu.skip_index.insert(r.order);
    emit(qu, EventType::joined, &r, now);
    if (qu.skippers.size() == 1 &&
        rules::skip_admission_count(qu.config, ph, static_cast<int64_t>(qu.active.size()), 1) ==
            1)
      admit(qu, r, now);
    Ticket t = view(qu, r);
    t.created = true;
    co_return t;
  }
  r.order = qu.next_order++;  // an entrant's arrival number until the draw gives it base + place
  r.dedupe_key = key;
  if (!key.empty()) qu.dedupe[std::move(key)] = id;
  qu.seen(r, now);  // (an entrant's abandonment clock starts at the draw: rules::abandon_cutoff)
  if (rule == rules::JoinRule::enter_prequeue) {
    r.entrant_epoch = qu.epoch;
    r.pre_index = static_cast<uint32_t>(qu.draw.pre.size());
    qu.draw.pre.push_back({draw::key(qu.draw.seed, draw::entry_id(id.str())), &r});
    ++qu.draw.entrants;
    emit(qu, EventType::entered, &r, now);
    Ticket t = view(qu, r);
    t.created = true;
    co_return t;
  }
  bool nobody_waits = qu.waiting.empty() && qu.skippers.empty();
  qu.waiting.push_back(r.order, &r);
  qu.index.insert(r.order);
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
  settle(qu, now);
  auto r = find_ticket(qu, id);
  if (!r) co_return r.error();
  Rec& rec = **r;
  if (touch && rec.state == TicketState::waiting && now > rec.last_seen_ms) {
    qu.unseen_erase(rec);
    qu.seen(rec, now);
  }
  co_return view(qu, rec);
}

Task<Ticket> MemoryStore::leave(std::string q, std::string id, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  settle(qu, now);
  auto r = find_ticket(qu, id);
  if (!r) co_return r.error();
  if ((*r)->state != TicketState::ended) end(qu, **r, EventType::left, now);
  co_return view(qu, **r);
}

Task<Ticket> MemoryStore::complete(std::string q, std::string id, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  settle(qu, now);
  auto r = find_ticket(qu, id);
  if (!r) co_return r.error();
  if ((*r)->state == TicketState::waiting)
    co_return err(Errc::bad_request, "a waiting ticket cannot complete; it was never admitted");
  if ((*r)->state == TicketState::active) end(qu, **r, EventType::completed, now);
  co_return view(qu, **r);
}

Task<Ok> MemoryStore::touch(std::string q, std::vector<std::string> ids, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  settle(qu, now);
  for (auto& id : ids) {
    auto key = IdKey::of(id);
    Rec* found = key ? qu.tickets.find(*key) : nullptr;
    if (!found) continue;
    Rec& r = *found;
    if (r.state != TicketState::waiting || now <= r.last_seen_ms) continue;
    qu.unseen_erase(r);
    qu.seen(r, now);
  }
  co_return Ok{};
}

MemoryStore::Rec& MemoryStore::next_admission(Queue& qu) {
  Rec& head = *qu.waiting.front();
  // Entrants (always at the head once drawn) go in draw order: the draw is already a uniformly
  // random order. The lottery is among everyone else.
  if (qu.config.mode != Mode::random || head.entrant_epoch != 0) return head;
  std::uniform_int_distribution<int64_t> pick(1, qu.index.size());
  Rec* r = qu.waiting.at(qu.index.select(pick(lottery_)));
  return r ? *r : head;  // (the index and the line hold the same orders)
}

Task<int64_t> MemoryStore::tick(std::string q, Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  uint64_t before = qu.seq;
  settle(qu, now);
  if (!qu.closed && rules::phase(qu.config, qu.draw.state, now) == rules::Phase::closed)
    close(qu, now);  // closes_at reached; active sessions go on
  while (!qu.active.empty() && qu.active.begin()->first <= now)
    end(qu, *qu.active.begin()->second, EventType::expired, now);
  if (auto cutoff = rules::abandon_cutoff(qu.config, qu.draw.state, qu.draw.drawn_at, now))
    while (qu.unseen_head && qu.unseen_head->last_seen_ms <= *cutoff)
      end(qu, *qu.unseen_head, EventType::abandoned, now);
  // Skippers first, within max_active and without tokens (the rate is the line's).
  int64_t k = rules::skip_admission_count(qu.config, rules::phase(qu.config, qu.draw.state, now),
                                          static_cast<int64_t>(qu.active.size()),
                                          static_cast<int64_t>(qu.skippers.size()));
  for (int64_t i = 0; i < k; ++i) admit(qu, *qu.skippers.front(), now);
  int64_t n = rules::admission_count(qu.bucket, qu.config, static_cast<int64_t>(qu.active.size()),
                                     static_cast<int64_t>(qu.waiting.size()), now);
  for (int64_t i = 0; i < n; ++i) admit(qu, next_admission(qu), now);
  purge_ended(qu, now);
  drop_pow_marks(now);  // (also done by joins; here so that marks go when joins stop)
  auto made = static_cast<int64_t>(qu.seq - before);
  // (A closed queue has nobody waiting: close ended them all.)
  if (qu.closed &&
      rules::forgettable(qu.closed_ms, static_cast<int64_t>(qu.active.size()), qu.config, now))
    forget(q);
  co_return made;
}

void MemoryStore::forget(const std::string& q) {
  auto it = queues_.find(q);
  last_seq_[q] = it->second->seq;
  queues_.erase(it);  // (closed: it was not counted in open_queues_)
}

Task<QueueSnapshot> MemoryStore::snapshot(std::string q) {
  auto found = find(q);
  if (!found) co_return found.error();
  QueueSnapshot s;
  s.info = info(**found);
  s.waiting_orders.reserve((*found)->waiting_count());
  (*found)->waiting.each([&](const Rec& r) { s.waiting_orders.push_back(r.order); });
  (*found)->skippers.each([&](const Rec& r) { s.waiting_orders.push_back(r.order); });
  co_return s;
}

void MemoryStore::drop_pow_marks(Millis now) {
  while (!pow_expiry_.empty() && pow_expiry_.begin()->first * 1000 <= now) {
    for (auto& id : pow_expiry_.begin()->second) pow_marks_.erase(id);
    pow_expiry_.erase(pow_expiry_.begin());
  }
}

Task<std::vector<Invite>> MemoryStore::create_invites(std::string q, InviteSpec spec,
                                                      Millis now) {
  auto found = find(q);
  if (!found) co_return found.error();
  if (auto s = rules::validate(spec, now); !s) co_return s.error();
  Queue& qu = **found;
  if (static_cast<int64_t>(qu.invites.size()) + spec.count > rules::kMaxInvitesPerQueue)
    co_return err(Errc::too_many_invites,
                  "a queue holds at most 100000 invite codes (revoked ones included)");
  std::vector<Invite> out;
  out.reserve(static_cast<size_t>(spec.count));
  while (static_cast<int64_t>(out.size()) < spec.count) {
    Invite inv;
    inv.code = new_invite_code();
    inv.uses = spec.uses;
    inv.expires_ms = spec.expires_ms;
    inv.skip = spec.skip;
    inv.created_ms = now;
    inv.label = spec.label;
    // (80 random bits: a clash is as good as impossible; one would simply draw again.)
    if (qu.invites.emplace(inv.code, inv).second) out.push_back(std::move(inv));
  }
  co_return out;
}

Task<std::vector<Invite>> MemoryStore::list_invites(std::string q, std::string after,
                                                    int64_t limit) {
  auto found = find(q);
  if (!found) co_return found.error();
  if (limit < 1 || limit > rules::kMaxInviteMint)
    co_return err(Errc::bad_request, "limit must be between 1 and 10000");
  const auto& all = (*found)->invites;
  std::vector<Invite> out;
  for (auto it = after.empty() ? all.begin() : all.upper_bound(after);
       it != all.end() && static_cast<int64_t>(out.size()) < limit; ++it)
    out.push_back(it->second);
  co_return out;
}

Task<Invite> MemoryStore::revoke_invite(std::string q, std::string code, Millis) {
  auto found = find(q);
  if (!found) co_return found.error();
  auto it = (*found)->invites.find(code);
  if (it == (*found)->invites.end())
    co_return err(Errc::invite_not_found, "no such invite code for this queue");
  it->second.revoked = true;
  co_return it->second;
}

Task<Ok> MemoryStore::ping() { co_return Ok{}; }

Task<DrawPage> MemoryStore::draw_page(std::string q, int64_t after, int64_t limit) {
  auto found = find(q);
  if (!found) co_return found.error();
  const Queue& qu = **found;
  const Draw& d = qu.draw;
  if (d.state == DrawState::none) co_return err(Errc::no_draw, "this queue has no draw");
  DrawPage page;
  page.info = info(qu).draw;
  if (d.state != DrawState::drawn) co_return page;
  page.info.seed = draw::hex(d.seed);
  const auto n = static_cast<int64_t>(d.list.size());
  const int64_t from = std::clamp<int64_t>(after, 0, n);
  const int64_t to = from + std::clamp<int64_t>(limit, 0, std::min<int64_t>(10'000, n - from));
  page.entries.reserve(static_cast<size_t>(to - from));
  for (int64_t i = from; i < to; ++i) page.entries.push_back(draw::entry_id(d.list[i].str()));
  co_return page;
}

Task<std::vector<int64_t>> MemoryStore::places(std::string q, std::vector<std::string> ids) {
  auto found = find(q);
  if (!found) co_return found.error();
  Queue& qu = **found;
  std::vector<int64_t> out(ids.size(), 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto key = IdKey::of(ids[i]);
    const Rec* r = key ? qu.tickets.find(*key) : nullptr;
    if (r && r->entrant_epoch == qu.epoch) out[i] = r->place;
  }
  co_return out;
}

}  // namespace anteroom
