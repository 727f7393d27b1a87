#pragma once
// An order-statistic set of join orders: the waiting line of one queue as this process sees it.
// rank(order) is the visitor's position in O(log n) with no store round trip (DESIGN.md, "the
// hard part"). Orders only grow, so the index keeps a sliding window [base, base + capacity)
// and compacts when the head has moved on.
//
// Not thread-safe; owned by one thread.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace anteroom {

class PositionIndex {
 public:
  // Adds `order`; no-op if present. Amortised O(log n).
  void insert(uint64_t order);
  // Removes `order`; returns false if it was absent.
  bool erase(uint64_t order);
  bool contains(uint64_t order) const;
  // Members <= order (the 1-based position of a member). O(log n).
  int64_t rank(uint64_t order) const;
  int64_t size() const { return size_; }
  // The smallest member, or 0 if empty.
  uint64_t first() const;
  void clear();
  // Rebuilds from ascending orders in O(n).
  void assign(const std::vector<uint64_t>& ascending);
  // Adds every order in [lo, hi] (the draw's entrants: one dense range at once), in
  // O(size + hi - lo) rather than (hi - lo) inserts. Orders already present stay.
  void insert_range(uint64_t lo, uint64_t hi);

 private:
  void reserve_for(uint64_t order);
  void rebuild(uint64_t new_base, size_t new_cap, const std::vector<uint64_t>& members);
  std::vector<uint64_t> members() const;
  size_t slot(uint64_t order) const { return static_cast<size_t>(order - base_); }

  uint64_t base_ = 0;
  std::vector<uint64_t> bits_;  // membership bitmap over the window
  std::vector<int32_t> tree_;   // Fenwick tree over the window, 1-based
  int64_t size_ = 0;
};

}  // namespace anteroom
