#include "core/position_index.hpp"

#include <algorithm>
#include <bit>

namespace anteroom {

namespace {
constexpr size_t kMinCap = 1024;
}

bool PositionIndex::contains(uint64_t order) const {
  if (order < base_ || order - base_ >= tree_.size()) return false;
  size_t s = slot(order);
  return (bits_[s / 64] >> (s % 64)) & 1;
}

void PositionIndex::insert(uint64_t order) {
  reserve_for(order);
  if (contains(order)) return;
  size_t s = slot(order);
  bits_[s / 64] |= uint64_t{1} << (s % 64);
  for (size_t i = s + 1; i <= tree_.size(); i += i & (~i + 1)) ++tree_[i - 1];
  ++size_;
}

bool PositionIndex::erase(uint64_t order) {
  if (!contains(order)) return false;
  size_t s = slot(order);
  bits_[s / 64] &= ~(uint64_t{1} << (s % 64));
  for (size_t i = s + 1; i <= tree_.size(); i += i & (~i + 1)) --tree_[i - 1];
  --size_;
  return true;
}

int64_t PositionIndex::rank(uint64_t order) const {
  if (order < base_ || tree_.empty()) return 0;
  size_t n = std::min<uint64_t>(order - base_ + 1, tree_.size());
  int64_t sum = 0;
  for (size_t i = n; i > 0; i -= i & (~i + 1)) sum += tree_[i - 1];
  return sum;
}

uint64_t PositionIndex::first() const {
  if (size_ == 0) return 0;
  for (size_t w = 0; w < bits_.size(); ++w)
    if (bits_[w]) return base_ + w * 64 + std::countr_zero(bits_[w]);
  return 0;
}

void PositionIndex::clear() {
  base_ = 0;
  bits_.clear();
  tree_.clear();
  size_ = 0;
}

std::vector<uint64_t> PositionIndex::members() const {
  std::vector<uint64_t> out;
  out.reserve(size_);
  for (size_t w = 0; w < bits_.size(); ++w)
    for (uint64_t b = bits_[w]; b; b &= b - 1) out.push_back(base_ + w * 64 + std::countr_zero(b));
  return out;
}

void PositionIndex::rebuild(uint64_t new_base, size_t new_cap,
                            const std::vector<uint64_t>& ms) {
  base_ = new_base;
  tree_.assign(new_cap, 0);
  bits_.assign((new_cap + 63) / 64, 0);
  for (uint64_t o : ms) {
    size_t s = slot(o);
    bits_[s / 64] |= uint64_t{1} << (s % 64);
    ++tree_[s];
  }
  // Linear-time Fenwick construction: push each node's sum to its parent.
  for (size_t i = 1; i <= tree_.size(); ++i) {
    size_t parent = i + (i & (~i + 1));
    if (parent <= tree_.size()) tree_[parent - 1] += tree_[i - 1];
  }
  size_ = static_cast<int64_t>(ms.size());
}

void PositionIndex::reserve_for(uint64_t order) {
  if (!tree_.empty() && order >= base_ && order - base_ < tree_.size()) return;
  auto ms = members();
  uint64_t lo = ms.empty() ? order : std::min(ms.front(), order);
  uint64_t hi = ms.empty() ? order : std::max(ms.back(), order);
  size_t need = static_cast<size_t>(hi - lo + 1);
  // Keep the window at least twice the span so that compaction is amortised.
  size_t cap = std::max(kMinCap, std::bit_ceil(need * 2));
  rebuild(lo, cap, ms);
}

void PositionIndex::assign(const std::vector<uint64_t>& ascending) {
  clear();
  if (ascending.empty()) return;
  size_t need = static_cast<size_t>(ascending.back() - ascending.front() + 1);
  rebuild(ascending.front(), std::max(kMinCap, std::bit_ceil(need * 2)), ascending);
}

void PositionIndex::insert_range(uint64_t lo, uint64_t hi) {
  if (lo > hi) return;
  auto ms = members();
  std::vector<uint64_t> all;
  all.reserve(ms.size() + static_cast<size_t>(hi - lo + 1));
  auto it = std::lower_bound(ms.begin(), ms.end(), lo);
  all.insert(all.end(), ms.begin(), it);
  for (uint64_t o = lo; o <= hi && o >= lo; ++o) all.push_back(o);  // (o >= lo: no wrap at max)
  all.insert(all.end(), std::upper_bound(it, ms.end(), hi), ms.end());
  assign(all);
}

}  // namespace anteroom
