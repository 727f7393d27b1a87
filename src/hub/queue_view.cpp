#include "hub/queue_view.hpp"

#include <algorithm>

namespace anteroom {

QueueView::Step QueueView::receive(const Event& e) {
  if (loading_) {
    buffered_.push_back(e);
    return Step::buffered;
  }
  if (e.seq <= seq_) return Step::duplicate;
  if (e.seq != seq_ + 1) {
    buffered_.push_back(e);
    return Step::gap;
  }
  return Step::apply;
}

int64_t QueueView::position(uint64_t order) const {
  if (!waiting(order)) return 0;
  return rules::is_skip(order) ? skip_.rank(order) : skip_.size() + line_.rank(order);
}

void QueueView::apply(const Event& e) {
  if (rules::is_skip(e.order) && e.type != EventType::drawn) {
    // A skipper: ahead of everyone, so every position may change.
    switch (e.type) {
      case EventType::joined:
        skip_.insert(e.order);
        moved_from(0);
        break;
      case EventType::admitted:
        rate_.record(e.at_ms);
        [[fallthrough]];
      case EventType::left:
      case EventType::abandoned:
        if (skip_.erase(e.order)) moved_from(0);
        break;
      default:  // expired/completed: not waiting (events without a ticket have order 0)
        break;
    }
    seq_ = e.seq;
    return;
  }
  switch (e.type) {
    case EventType::joined:
      line_.insert(e.order);
      moved_from(e.order);
      break;
    case EventType::admitted:
      rate_.record(e.at_ms);
      [[fallthrough]];
    case EventType::left:
    case EventType::abandoned:
      if (draw_.state == DrawState::prequeue) {
        entrant_ended(e.order);
        break;
      }
      line_.erase(e.order);
      moved_from(e.order);
      break;
    case EventType::expired:
    case EventType::completed:
      break;
    case EventType::config_changed:
      if (closed_) {  // a reopen: a new epoch, with a draw of its own (if it gets opens_at)
        draw_ = Draw{};
        entrants_.clear();
        entrants_known_ = true;
      }
      closed_ = false;  // (the new config itself is read from the store: configure())
      break;
    case EventType::closed:
      line_.clear();
      skip_.clear();
      closed_ = true;
      moved_from(0);
      if (draw_.state == DrawState::prequeue) draw_.state = DrawState::void_;
      entrants_.clear();
      break;
    case EventType::entered:  // the pre-queue: nobody has a position until the draw
      if (draw_.state == DrawState::none) draw_.state = DrawState::prequeue;
      ++draw_.entrants;
      entrants_.insert(e.order);
      break;
    case EventType::drawn: {
      int64_t n = e.expires_ms;
      draw_.state = DrawState::drawn;
      draw_.base = e.order;
      draw_.entrants = n;
      draw_.seq = e.seq;
      draw_.drawn_at_ms = e.at_ms;
      if (n > 0) line_.insert_range(e.order + 1, e.order + static_cast<uint64_t>(n));
      entrants_.clear();
      entrants_known_ = true;
      moved_.all = true;
      break;
    }
  }
  seq_ = e.seq;
}

void QueueView::entrant_ended(uint64_t order) {
  if (entrants_known_ ? !entrants_.erase(order) : line_.contains(order)) {
    // Not an entrant (an admitted visitor leaving): as outside the pre-queue.
    if (line_.erase(order)) moved_from(order);
    return;
  }
  draw_.entrants = std::max<int64_t>(0, draw_.entrants - 1);
}

void QueueView::set_draw(const DrawInfo& d, uint64_t seq) {
  draw_.state = d.state;
  draw_.entrants = d.entrants;
  draw_.base = d.base;
  draw_.drawn_at_ms = d.drawn_at_ms;
  draw_.seq = d.state == DrawState::drawn ? seq : 0;
  entrants_.clear();
  // Entrants who entered before this read are known by count only.
  entrants_known_ = d.state != DrawState::prequeue || d.entrants == 0;
}

std::vector<Event> QueueView::load(const QueueSnapshot& snap) {
  // Ascending: the skippers' orders come last.
  auto first_skip = std::partition_point(snap.waiting_orders.begin(), snap.waiting_orders.end(),
                                         [](uint64_t o) { return !rules::is_skip(o); });
  line_.assign({snap.waiting_orders.begin(), first_skip});
  skip_.assign({first_skip, snap.waiting_orders.end()});
  set_draw(snap.info.draw, snap.info.seq);
  seq_ = snap.info.seq;
  config_ = snap.info.config;
  closed_ = snap.info.closed;
  known_ = true;
  loading_ = false;
  moved_.all = true;
  auto buffered = std::move(buffered_);
  buffered_.clear();
  std::sort(buffered.begin(), buffered.end(),
            [](const Event& a, const Event& b) { return a.seq < b.seq; });
  return buffered;
}

void QueueView::configure(const QueueConfig& c) {
  config_ = c;
  known_ = true;
  if (draw_.state == DrawState::none && c.opens_at && !closed_) draw_.state = DrawState::prequeue;
}

QueueView::Moved QueueView::take_moved() {
  Moved m = moved_;
  moved_ = Moved{};
  if (m.all) m.from = 0;
  return m;
}

}  // namespace anteroom
