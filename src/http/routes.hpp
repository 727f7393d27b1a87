#pragma once
// The route table: method + path pattern → handler, one row per (method, path), the event
// stream included. Patterns are literal segments and the parameters {q} (a queue name), {t}
// (a ticket id) and {code} (an invite code, as typed: the handler normalises it).
#include "core/error.hpp"
#include "http/handlers.hpp"

namespace anteroom::http {

// The handler for `method` on `path`, with {q}, {t} and {code} set in `r`. Errors: not_found (no
// pattern matches the path), invalid_queue_name (a {q} that cannot name a queue, whatever the
// method), method_not_allowed (the path exists, not with this method).
Result<Handler> route(bhttp::verb method, std::string_view path, Request& r);

}  // namespace anteroom::http
