#include "http/routes.hpp"

#include <vector>

#include "core/rules.hpp"

namespace anteroom::http {

namespace {

using bhttp::verb;

struct Route {
  verb method;
  std::string_view pattern;
  Handler handler;
};

// HEAD is listed where it is allowed: the server answers it as GET without the body.
constexpr Route kRoutes[] = {
    {verb::get, "/", ops::demo_page},
    {verb::head, "/", ops::demo_page},
    // (Before /q/{q}: the first route whose path matches is taken; "pow-worker.js" is no queue.)
    {verb::get, "/q/pow-worker.js", ops::pow_worker},
    {verb::head, "/q/pow-worker.js", ops::pow_worker},
    {verb::get, "/q/{q}", ops::page},
    {verb::head, "/q/{q}", ops::page},
    {verb::get, "/healthz", ops::healthz},
    {verb::head, "/healthz", ops::healthz},
    {verb::get, "/readyz", ops::readyz},
    {verb::head, "/readyz", ops::readyz},
    {verb::get, "/metrics", ops::metrics},
    {verb::head, "/metrics", ops::metrics},
    {verb::get, "/admin", ops::admin_page},
    {verb::head, "/admin", ops::admin_page},
    {verb::get, "/admin/app.js", ops::admin_js},
    {verb::head, "/admin/app.js", ops::admin_js},
    {verb::get, "/admin/app.css", ops::admin_css},
    {verb::head, "/admin/app.css", ops::admin_css},

    {verb::get, "/v1/verify", site::verify},
    {verb::head, "/v1/verify", site::verify},

    {verb::post, "/v1/queues/{q}/tickets", visitor::join},
    {verb::get, "/v1/queues/{q}/challenge", visitor::challenge},
    {verb::get, "/v1/queues/{q}/tickets/{t}", visitor::get_ticket},
    {verb::delete_, "/v1/queues/{q}/tickets/{t}", visitor::leave},
    {verb::get, "/v1/queues/{q}/tickets/{t}/events", visitor::events},
    {verb::get, "/v1/queues/{q}/draw", visitor::draw},
    {verb::head, "/v1/queues/{q}/draw", visitor::draw},

    {verb::get, "/v1/queues", op::list_queues},
    {verb::put, "/v1/queues/{q}", op::put_queue},
    {verb::get, "/v1/queues/{q}", op::get_queue},
    {verb::delete_, "/v1/queues/{q}", op::close_queue},
    {verb::post, "/v1/queues/{q}/tickets/{t}/complete", op::complete},
    {verb::get, "/v1/queues/{q}/webhooks/dead", op::dead_letters},
    {verb::post, "/v1/queues/{q}/webhooks/dead/redrive", op::redrive},
    {verb::post, "/v1/queues/{q}/invites", op::create_invites},
    {verb::get, "/v1/queues/{q}/invites", op::list_invites},
    {verb::delete_, "/v1/queues/{q}/invites/{code}", op::revoke_invite},
    {verb::get, "/v1/admin/overview", op::admin_overview},
    {verb::get, "/v1/admin/queues/{q}/history", op::admin_history},
    {verb::get, "/v1/admin/stream", op::admin_stream},
};

enum class Part : uint8_t { literal, queue, ticket, code };

struct CompiledRoute {
  const Route* route;
  std::vector<std::pair<Part, std::string_view>> parts;
};

const std::vector<CompiledRoute>& table() {
  static const std::vector<CompiledRoute> t = [] {
    std::vector<CompiledRoute> out;
    for (const Route& r : kRoutes) {
      CompiledRoute c{&r, {}};
      Segments seg = split_path(r.pattern);
      for (size_t i = 0; i < seg.size(); ++i) {
        Part p = seg[i] == "{q}"      ? Part::queue
                 : seg[i] == "{t}"    ? Part::ticket
                 : seg[i] == "{code}" ? Part::code
                                      : Part::literal;
        c.parts.emplace_back(p, seg[i]);
      }
      out.push_back(std::move(c));
    }
    return out;
  }();
  return t;
}

// Binds the route's parameters if `seg` has its shape.
bool matches(const CompiledRoute& c, const Segments& seg, std::string_view& q, std::string_view& t,
             std::string_view& code) {
  if (c.parts.size() != seg.size()) return false;
  for (size_t i = 0; i < seg.size(); ++i) {
    auto [part, text] = c.parts[i];
    if (part == Part::literal && seg[i] != text) return false;
    if (part == Part::queue) q = seg[i];
    if (part == Part::ticket) t = seg[i];
    if (part == Part::code) code = seg[i];
  }
  return true;
}

}  // namespace

Result<Handler> route(verb method, std::string_view path, Request& r) {
  Segments seg = split_path(path);
  bool path_known = false;
  std::string_view q, t, code;
  Handler found = nullptr;
  for (const CompiledRoute& c : table()) {
    if (!matches(c, seg, q, t, code)) continue;
    path_known = true;
    if (c.route->method == method) {
      found = c.route->handler;
      break;
    }
  }
  if (!path_known) return err(Errc::not_found, "no such endpoint");
  // A name that cannot be a queue is refused before the method is looked at (as it always was).
  if (!q.empty() && !rules::valid_queue_name(q))
    return err(Errc::invalid_queue_name, "queue names match [a-z0-9][a-z0-9-]{0,63}");
  if (!found) return err(Errc::method_not_allowed, "method not allowed here");
  r.q = q;
  r.t = t;
  r.code = code;
  return found;
}

}  // namespace anteroom::http
