#include "http/ticket_view.hpp"

#include <algorithm>

#include "core/encoding.hpp"
#include "core/rules.hpp"
#include "views/views.hpp"

namespace anteroom::http {

boost::asio::awaitable<std::string> ticket_body(Edge& e, const Ticket& t, bool events_url) {
  // The hub knows the config of every queue it watches; a queue it does not watch is read from
  // the store (an ended ticket's view needs no config).
  const QueueConfig* cfg = e.hub.config(t.queue);
  QueueConfig fetched;
  if (!cfg && t.state != TicketState::ended) {
    if (auto qi = co_await e.store.get_queue(t.queue)) fetched = qi->config;
    cfg = &fetched;
  }
  views::TicketExtras x;
  x.events_url = events_url;
  Millis now = wall_ms();
  if (t.state == TicketState::waiting && t.entrant && t.place == 0) {
    // In the pre-queue: no position until the draw, a countdown to it instead.
    x.opens_at = cfg->opens_at.value_or(0);
    x.seconds_left = std::max<int64_t>(0, (x.opens_at * 1000 - now + 999) / 1000);
  } else if (t.state == TicketState::waiting && !t.entrant && cfg->mode == Mode::random) {
    // A lottery: every waiting visitor may be picked next, so no position; how many are in it
    // (one store read) and the likely range of the wait.
    x.lottery = true;
    if (auto qi = co_await e.store.get_queue(t.queue)) x.waiting = qi->stats.waiting;
    auto range = rules::lottery_eta(x.waiting, e.hub.admit_rate(t.queue, now), *cfg);
    x.eta_min_s = range.min_s;
    x.eta_max_s = range.max_s;
  } else if (t.state == TicketState::waiting) {
    x.eta_s = e.hub.eta(t.queue, *cfg, t.position, now);
    x.paused = cfg->paused;
  } else if (t.state == TicketState::active) {
    x.admission = admission_for(e.signer, t.queue, t.id, t.expires_ms, cfg->target_url);
  }
  co_return views::ticket_json(t, x);
}

}  // namespace anteroom::http
