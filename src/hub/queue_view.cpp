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

void QueueView::apply(const Event& e) {
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
      line_.erase(e.order);
      moved_from(e.order);
      break;
    case EventType::expired:
    case EventType::completed:
      break;
    case EventType::config_changed:
      closed_ = false;  // (the new config itself is read from the store: configure())
      break;
    case EventType::closed:
      line_.clear();
      closed_ = true;
      moved_from(0);
      break;
    case EventType::entered:  // the pre-queue: nobody has a position until the draw
    case EventType::drawn:    // (step 3: the hub slice fills these in)
      break;
  }
  seq_ = e.seq;
}

std::vector<Event> QueueView::load(const QueueSnapshot& snap) {
  line_.assign(snap.waiting_orders);
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
}

QueueView::Moved QueueView::take_moved() {
  Moved m = moved_;
  moved_ = Moved{};
  if (m.all) m.from = 0;
  return m;
}

}  // namespace anteroom
