#pragma once
// One queue as this process sees it, built from its events alone: the waiting line (a
// PositionIndex of join orders), the config, the admission rate, and the seq of the last event
// applied. It decides what each incoming event is (next in order, duplicate, or after a gap),
// buffers events while the line is being reloaded from the store, and tracks which positions
// the applied events moved, so that only those streams are looked at again.
//
// Which positions an event moves (join orders only grow):
//   joined at o      → nobody ahead of o; only a stream of o itself (told its position by the
//                      store, maybe before this event came) is looked at;
//   admitted/left/abandoned at o → the streams behind o (order > o);
//   closed           → everybody (the line is gone); expired/completed → nobody (not in line).
// A config change or a reload refreshes everybody (`refresh_all`).
//
// Pure model: no I/O, no streams, not thread-safe (the io thread).
#include <cstdint>
#include <limits>
#include <vector>

#include "core/position_index.hpp"
#include "core/rules.hpp"
#include "core/types.hpp"

namespace anteroom {

class QueueView {
 public:
  enum class Step {
    apply,      // the next event in seq order: apply() it
    duplicate,  // seq already applied: drop it
    buffered,   // a reload is running: kept, handed back by load()
    gap,        // seq skipped some: kept; the caller must reload the line (begin_reload + load)
  };
  // What positions the applied events moved since take_moved().
  struct Moved {
    static constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
    uint64_t from = kNone;  // streams with order ≥ from may have a new position
    bool all = false;       // every stream must be re-sent, even at an unchanged position
    bool any() const { return all || from != kNone; }
  };

  Step receive(const Event& e);
  // Applies an event that receive() said to apply.
  void apply(const Event& e);

  void begin_reload() { loading_ = true; }
  bool loading() const { return loading_; }
  // The store's snapshot replaces the line and ends the reload. Returns the events buffered
  // meanwhile, in seq order: each goes through receive() again (a new gap reloads again).
  std::vector<Event> load(const QueueSnapshot& snap);
  // The reload found no queue: stop buffering (what was buffered waits for the next one).
  void reload_failed() { loading_ = false; }

  // Config read from the store (at first sight, or after config_changed; then refresh_all()).
  void configure(const QueueConfig& c);
  void set_closed(bool closed) { closed_ = closed; }
  void refresh_all() { moved_.all = true; }

  const Moved& moved() const { return moved_; }
  Moved take_moved();

  bool known() const { return known_; }  // config loaded
  const QueueConfig& config() const { return config_; }
  bool closed() const { return closed_; }
  uint64_t seq() const { return seq_; }
  const PositionIndex& line() const { return line_; }
  // Observed admissions per second, or -1 when none recently.
  double admit_rate(Millis now) const { return rate_.rate(now); }

 private:
  void moved_from(uint64_t order) { moved_.from = std::min(moved_.from, order); }

  bool known_ = false;
  QueueConfig config_;
  bool closed_ = false;
  uint64_t seq_ = 0;
  bool loading_ = false;
  std::vector<Event> buffered_;  // events that came during a reload or after a gap
  PositionIndex line_;
  rules::RateEstimator rate_;
  Moved moved_;
};

}  // namespace anteroom
