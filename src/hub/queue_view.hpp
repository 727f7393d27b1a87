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
//   entered          → nobody: a pre-queue entrant has no position until the draw;
//   drawn            → everybody: the entrants (orders base+1..base+n) enter the line at once.
// A config change or a reload refreshes everybody (`refresh_all`).
//
// Skip-the-line tickets (SPEC §8; orders rules::kSkipOrder + n) wait ahead of everyone, first
// come first served: they have their own index (skip()), a skipper's position is its rank
// there and everyone else's is skip().size() + its rank in the line. A skipper's
// joined/admitted/left/abandoned moves every stream; entrant tracking never sees skip orders.
//
// The on-sale's draw (SPEC §7), as the events show it: `entered` counts an entrant, and before
// the draw an entrant's `left` takes it off again (orders of the entrants seen entering are
// kept, so that an admitted visitor leaving then is not counted; after a reload during the
// pre-queue they are unknown and every `left`/`abandoned` counts: before the draw only entrants
// wait). `drawn` (order = base, expires_ms = n) makes the line hold base+1..base+n.
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
  // The queue's draw in its current epoch.
  struct Draw {
    DrawState state = DrawState::none;
    int64_t entrants = 0;  // prequeue: so far; drawn: the draw's count (fixed)
    uint64_t base = 0;     // drawn: the entrant at place p has order base + p
    uint64_t seq = 0;      // drawn: the seq of the `drawn` event (or the snapshot that showed it)
    Millis drawn_at_ms = 0;
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
  // opens_at in an epoch with no draw yet opens its pre-queue.
  void configure(const QueueConfig& c);
  // The draw as the store showed it at first sight of the queue (no events applied yet).
  void set_draw(const DrawInfo& d, uint64_t seq);
  void set_closed(bool closed) { closed_ = closed; }
  void refresh_all() { moved_.all = true; }

  const Moved& moved() const { return moved_; }
  Moved take_moved();

  bool known() const { return known_; }  // config loaded
  const QueueConfig& config() const { return config_; }
  bool closed() const { return closed_; }
  uint64_t seq() const { return seq_; }
  const PositionIndex& line() const { return line_; }  // drawn entrants and the line
  const PositionIndex& skip() const { return skip_; }  // waiting skippers
  // Whether `order` waits (in the line or among the skippers), and its position (0 if not).
  bool waiting(uint64_t order) const {
    return rules::is_skip(order) ? skip_.contains(order) : line_.contains(order);
  }
  int64_t position(uint64_t order) const;
  int64_t waiting_count() const { return line_.size() + skip_.size(); }
  const Draw& draw() const { return draw_; }
  // Observed admissions per second, or -1 when none recently.
  double admit_rate(Millis now) const { return rate_.rate(now); }

 private:
  void moved_from(uint64_t order) { moved_.from = std::min(moved_.from, order); }
  // A ticket ended at `order` while the draw is ahead: an entrant leaving the pre-queue?
  void entrant_ended(uint64_t order);

  bool known_ = false;
  QueueConfig config_;
  bool closed_ = false;
  uint64_t seq_ = 0;
  bool loading_ = false;
  std::vector<Event> buffered_;  // events that came during a reload or after a gap
  PositionIndex line_;
  PositionIndex skip_;
  rules::RateEstimator rate_;
  Moved moved_;
  Draw draw_;
  PositionIndex entrants_;      // pre-queue: the arrival orders of the entrants seen entering
  bool entrants_known_ = true;  // false: the pre-queue was loaded from a snapshot (a count)
};

}  // namespace anteroom
