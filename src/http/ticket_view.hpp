#pragma once
// A ticket as the API shows it: fetches what the view needs (the queue's config, from the hub or
// else the store; the ETA from the hub; the admission from the signer; for a pre-queue entrant
// the countdown to opens_at; in a mode-random queue the number waiting, from the store, for the
// lottery's range), then formats it with views::ticket_json. Used by the visitor's and the operator's handlers.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "http/handlers.hpp"

namespace anteroom::http {

boost::asio::awaitable<std::string> ticket_body(Edge& e, const Ticket& t, bool events_url = false);

}  // namespace anteroom::http
