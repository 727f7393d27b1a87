// The route table: each (method, path) finds its one handler with its parameters; a known path
// with another method is 405, an unknown path 404, a bad queue name 400 whatever the method.
#include "http/routes.hpp"

#include <gtest/gtest.h>

namespace anteroom::http {
namespace {

using bhttp::verb;

struct Routed {
  Result<Handler> h;
  std::string q, t, code;
};

Routed routed(verb m, std::string_view path) {
  HttpRequest req;
  Request r{req, "", path, ""};
  auto h = route(m, path, r);
  return {std::move(h), r.q, r.t, r.code};
}

Errc error_of(verb m, std::string_view path) {
  auto r = routed(m, path);
  EXPECT_FALSE(r.h.ok()) << path;
  return r.h.ok() ? Errc::internal : r.h.error().code;
}

TEST(Routes, TheDashboardsPageAssetsAndAdminRoutes) {
  for (verb m : {verb::get, verb::head}) {
    EXPECT_EQ(*routed(m, "/admin").h, &ops::admin_page);
    EXPECT_EQ(*routed(m, "/admin/app.js").h, &ops::admin_js);
    EXPECT_EQ(*routed(m, "/admin/app.css").h, &ops::admin_css);
  }
  EXPECT_EQ(*routed(verb::get, "/v1/admin/overview").h, &op::admin_overview);
  EXPECT_EQ(*routed(verb::get, "/v1/admin/stream").h, &op::admin_stream);
  auto h = routed(verb::get, "/v1/admin/queues/line/history");
  ASSERT_TRUE(h.h.ok());
  EXPECT_EQ(*h.h, &op::admin_history);
  EXPECT_EQ(h.q, "line");
  EXPECT_EQ(error_of(verb::get, "/v1/admin/queues/Bad_Name/history"), Errc::invalid_queue_name);
  EXPECT_EQ(error_of(verb::post, "/v1/admin/overview"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::head, "/v1/admin/stream"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::get, "/admin/other.js"), Errc::not_found);
}

TEST(Routes, EachMethodAndPathHasItsHandler) {
  auto r = routed(verb::get, "/v1/queues/line/tickets/abc/events");
  ASSERT_TRUE(r.h.ok());
  EXPECT_EQ(*r.h, &visitor::events);
  EXPECT_EQ(r.q, "line");
  EXPECT_EQ(r.t, "abc");
  EXPECT_EQ(*routed(verb::get, "/v1/queues/line/tickets/abc").h, &visitor::get_ticket);
  EXPECT_EQ(*routed(verb::delete_, "/v1/queues/line/tickets/abc").h, &visitor::leave);
  EXPECT_EQ(*routed(verb::post, "/v1/queues/line/tickets").h, &visitor::join);
  EXPECT_EQ(*routed(verb::post, "/v1/queues/line/tickets/abc/complete").h, &op::complete);
  EXPECT_EQ(*routed(verb::put, "/v1/queues/line").h, &op::put_queue);
  EXPECT_EQ(*routed(verb::get, "/v1/queues/line").h, &op::get_queue);
  EXPECT_EQ(*routed(verb::delete_, "/v1/queues/line").h, &op::close_queue);
  EXPECT_EQ(*routed(verb::get, "/v1/queues").h, &op::list_queues);
  EXPECT_EQ(*routed(verb::get, "/v1/queues/line/webhooks/dead").h, &op::dead_letters);
  EXPECT_EQ(*routed(verb::post, "/v1/queues/line/webhooks/dead/redrive").h, &op::redrive);
  EXPECT_EQ(*routed(verb::head, "/v1/verify").h, &site::verify);
  EXPECT_EQ(*routed(verb::get, "/v1/queues/line/draw").h, &visitor::draw);
  EXPECT_EQ(*routed(verb::get, "/v1/queues/line/challenge").h, &visitor::challenge);
  EXPECT_EQ(error_of(verb::post, "/v1/queues/line/challenge"), Errc::method_not_allowed);
  EXPECT_EQ(*routed(verb::head, "/v1/queues/line/draw").h, &visitor::draw);
  EXPECT_EQ(*routed(verb::get, "/").h, &ops::demo_page);
  EXPECT_EQ(*routed(verb::head, "/q/line").h, &ops::page);
  EXPECT_EQ(*routed(verb::get, "/q/pow-worker.js").h, &ops::pow_worker);
  EXPECT_EQ(*routed(verb::head, "/q/pow-worker.js").h, &ops::pow_worker);
  EXPECT_EQ(*routed(verb::get, "/metrics").h, &ops::metrics);
  // Empty segments do not count.
  EXPECT_EQ(*routed(verb::get, "//v1/queues/line/").h, &op::get_queue);
}

// The invites API: {code} is taken from the path as sent (the handler normalises it).
TEST(Routes, InvitesHaveTheirHandlersAndTheCodeParameter) {
  EXPECT_EQ(*routed(verb::post, "/v1/queues/line/invites").h, &op::create_invites);
  EXPECT_EQ(*routed(verb::get, "/v1/queues/line/invites").h, &op::list_invites);
  auto r = routed(verb::delete_, "/v1/queues/line/invites/7k3m-9qxw-z2ab-cdef");
  ASSERT_TRUE(r.h.ok());
  EXPECT_EQ(*r.h, &op::revoke_invite);
  EXPECT_EQ(r.q, "line");
  EXPECT_EQ(r.code, "7k3m-9qxw-z2ab-cdef");
  EXPECT_EQ(r.t, "");
  EXPECT_EQ(routed(verb::get, "/v1/queues/line/tickets/abc").code, "");
  EXPECT_EQ(error_of(verb::put, "/v1/queues/line/invites"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::delete_, "/v1/queues/line/invites"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::get, "/v1/queues/line/invites/CODE"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::post, "/v1/queues/line/invites/CODE"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::delete_, "/v1/queues/line/invites/a/b"), Errc::not_found);
  EXPECT_EQ(error_of(verb::post, "/v1/queues/Line/invites"), Errc::invalid_queue_name);
  EXPECT_EQ(error_of(verb::delete_, "/v1/queues/_/invites/CODE"), Errc::invalid_queue_name);
}

TEST(Routes, WrongMethodIs405) {
  EXPECT_EQ(error_of(verb::patch, "/v1/queues/line"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::get, "/v1/queues/line/tickets"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::post, "/v1/verify"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::put, "/v1/queues/line/tickets/abc"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::post, "/v1/queues/line/tickets/abc/events"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::head, "/v1/queues/line/tickets/abc/events"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::head, "/v1/queues"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::post, "/healthz"), Errc::method_not_allowed);
  EXPECT_EQ(error_of(verb::put, "/v1/queues/line/draw"), Errc::method_not_allowed);
}

TEST(Routes, UnknownPathIs404) {
  for (auto p : {"/v2/queues", "/v1/nothing", "/v1/queues/line/tickets/x/y/z", "/favicon.ico",
                 "/a/b/c/d/e/f/g/h/i/j"})
    EXPECT_EQ(error_of(verb::get, p), Errc::not_found) << p;
}

TEST(Routes, BadQueueNameIs400BeforeTheMethod) {
  EXPECT_EQ(error_of(verb::post, "/v1/queues/UPPER/tickets"), Errc::invalid_queue_name);
  EXPECT_EQ(error_of(verb::put, "/v1/queues/with_underscore"), Errc::invalid_queue_name);
  EXPECT_EQ(error_of(verb::patch, "/v1/queues/Bad!Name"), Errc::invalid_queue_name);
  EXPECT_EQ(error_of(verb::get, "/v1/queues/-x/tickets/abc/events"), Errc::invalid_queue_name);
}

}  // namespace
}  // namespace anteroom::http
