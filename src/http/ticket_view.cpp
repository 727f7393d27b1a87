#include "http/ticket_view.hpp"

#include "core/encoding.hpp"
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
  if (t.state == TicketState::waiting) {
    x.eta_s = e.hub.eta(t.queue, *cfg, t.position, wall_ms());
    x.paused = cfg->paused;
  } else if (t.state == TicketState::active) {
    x.admission = admission_for(e.signer, t.queue, t.id, t.expires_ms, cfg->target_url);
  }
  co_return views::ticket_json(t, x);
}

}  // namespace anteroom::http
