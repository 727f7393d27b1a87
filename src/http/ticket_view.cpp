#include "http/ticket_view.hpp"

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
    x.seconds_left = rules::seconds_until(x.opens_at, now);
  } else if (t.state == TicketState::waiting && !t.entrant && cfg->mode == Mode::random) {
    // A lottery: every waiting visitor may be picked next, so no position; how many are in it
    // and the likely range of the wait, as this process's streams are told (the hub's view);
    // from the store only for a queue the hub does not know yet.
    x.lottery = true;
    auto l = e.hub.lottery(t.queue, now);
    if (!l) {
      QueueConfig c = *cfg;  // (the store's answer has the config too: `cfg` may be gone by then)
      l.emplace();
      if (auto qi = co_await e.store.get_queue(t.queue)) {
        l->waiting = qi->stats.waiting;
        c = std::move(qi->config);
      }
      l->eta = rules::lottery_eta(l->waiting, e.hub.admit_rate(t.queue, now), c);
    }
    x.waiting = l->waiting;
    x.eta_min_s = l->eta.min_s;
    x.eta_max_s = l->eta.max_s;
  } else if (t.state == TicketState::waiting) {
    x.eta_s = e.hub.eta(t.queue, *cfg, t.position, now);
    x.paused = cfg->paused;
  } else if (t.state == TicketState::active) {
    x.admission = admission_for(e.signer, t.queue, t.id, t.expires_ms, cfg->target_url);
  }
  co_return views::ticket_json(t, x);
}

}  // namespace anteroom::http
