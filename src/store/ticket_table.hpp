#pragma once
// The memory store's tickets by id (memory_store.cpp). Not thread-safe.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom {

// A ticket id as a fixed-size key: ids are 22 base64url characters (rules::valid_ticket_id).
struct IdKey {
  std::array<char, 22> c{};
  static std::optional<IdKey> of(std::string_view id) {
    if (id.size() != 22) return std::nullopt;
    IdKey k;
    std::memcpy(k.c.data(), id.data(), 22);
    return k;
  }
  std::string str() const { return std::string(c.data(), c.size()); }
  bool operator==(const IdKey&) const = default;
};

// Ids are random: mixing two of their words is a good hash.
struct IdKeyHash {
  uint64_t operator()(const IdKey& k) const {
    uint64_t a, b;
    std::memcpy(&a, k.c.data(), 8);
    std::memcpy(&b, k.c.data() + 8, 8);
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
  }
};

// Records by IdKey (V has a member `IdKey id`): an open-addressing table of (hash, record)
// slots, linear probing, backward-shift erase (no tombstones), records in a pool that never
// moves them. A join touches one slot — one cache miss in a table of millions — where a
// node-based map touches a bucket, a chain node and a new node. Split into 64 tables so that
// growing one rehashes 1/64 of the records: a line of millions never stalls the io thread.
template <class V>
class TicketTable {
 public:
  V* find(const IdKey& k) {
    uint64_t h = hash(k);
    Shard& s = shard(h);
    if (s.slots.empty()) return nullptr;
    for (size_t i = h & s.mask();; i = (i + 1) & s.mask()) {
      Slot& sl = s.slots[i];
      if (!sl.v) return nullptr;
      if (sl.h == h && sl.v->id == k) return sl.v;
    }
  }

  // The record for `k`, made (default, with its id) if absent.
  V& add(const IdKey& k) {
    if (V* v = find(k)) return *v;
    uint64_t h = hash(k);
    Shard& s = shard(h);
    if ((s.size + 1) * 2 > s.slots.size()) grow(s);
    V* v;
    if (!free_.empty()) {
      v = free_.back();
      free_.pop_back();
    } else {
      v = &pool_.emplace_back();
    }
    v->id = k;
    place(s, h, v);
    ++s.size;
    ++size_;
    return *v;
  }

  void erase(const IdKey& k) {
    uint64_t h = hash(k);
    Shard& s = shard(h);
    if (s.slots.empty()) return;
    size_t i = h & s.mask();
    for (;; i = (i + 1) & s.mask()) {
      if (!s.slots[i].v) return;
      if (s.slots[i].h == h && s.slots[i].v->id == k) break;
    }
    *s.slots[i].v = V{};
    free_.push_back(s.slots[i].v);
    --s.size;
    --size_;
    // Backward shift: pull later members of the probe run into the hole when their home slot
    // is not between the hole and where they are.
    for (size_t j = (i + 1) & s.mask(); s.slots[j].v; j = (j + 1) & s.mask()) {
      size_t home = s.slots[j].h & s.mask();
      bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
      if (!movable) continue;
      s.slots[i] = s.slots[j];
      i = j;
    }
    s.slots[i] = Slot{};
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t h = 0;
    V* v = nullptr;
  };
  struct Shard {
    std::vector<Slot> slots;
    size_t size = 0;
    size_t mask() const { return slots.size() - 1; }
  };
  static uint64_t hash(const IdKey& k) { return IdKeyHash{}(k); }
  Shard& shard(uint64_t h) { return shards_[h >> 58]; }
  static void place(Shard& s, uint64_t h, V* v) {
    size_t i = h & s.mask();
    while (s.slots[i].v) i = (i + 1) & s.mask();
    s.slots[i] = Slot{h, v};
  }
  static void grow(Shard& s) {
    std::vector<Slot> old(std::max<size_t>(16, s.slots.size() * 2));
    old.swap(s.slots);
    for (const Slot& sl : old)
      if (sl.v) place(s, sl.h, sl.v);
  }

  std::array<Shard, 64> shards_;
  std::deque<V> pool_;
  std::vector<V*> free_;
  size_t size_ = 0;
};

}  // namespace anteroom
