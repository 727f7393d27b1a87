#include "support/invites.hpp"

#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/json_util.hpp"

namespace anteroom::testing {

std::string InvitesPath(std::string_view queue) {
  return "/v1/queues/" + std::string(queue) + "/invites";
}

// POST .../invites with `spec`; the minted invites (a recorded failure and none unless 201).
std::vector<boost::json::value> MustMint(const AnteroomProcess& server, std::string_view queue,
                                         const boost::json::object& spec) {
  HttpResponse r = server.Admin("POST", InvitesPath(queue), boost::json::serialize(spec),
                                {{"Content-Type", "application/json"}});
  if (r.status != 201) {
    ADD_FAILURE() << "mint " << boost::json::serialize(spec) << ": " << r;
    return {};
  }
  boost::json::value body = r.Json();  // (kept: `list` points into it)
  const boost::json::value* list = Field(body, "invites");
  if (!list || !list->is_array()) {
    ADD_FAILURE() << "no invites list: " << r;
    return {};
  }
  return std::vector<boost::json::value>(list->as_array().begin(), list->as_array().end());
}

// Mints one code like `spec` and returns it ("" and a recorded failure if refused).
std::string MustMintOne(const AnteroomProcess& server, std::string_view queue,
                        const boost::json::object& spec) {
  auto minted = MustMint(server, queue, spec);
  if (minted.size() != 1) {
    ADD_FAILURE() << "minted " << minted.size() << " codes, asked one";
    return "";
  }
  return Str(minted[0], "code");
}

// The one invite `code` as GET .../invites shows it (null and a recorded failure if absent).
boost::json::value ListedInvite(const AnteroomProcess& server, std::string_view queue,
                                std::string_view code) {
  HttpResponse r = server.Admin("GET", InvitesPath(queue) + "?limit=10000");
  if (r.status != 200) {
    ADD_FAILURE() << r;
    return nullptr;
  }
  boost::json::value body = r.Json();
  if (const boost::json::value* list = Field(body, "invites"); list && list->is_array())
    for (const boost::json::value& inv : list->as_array())
      if (Str(inv, "code") == code) return inv;
  ADD_FAILURE() << code << " not listed: " << r;
  return nullptr;
}

}  // namespace anteroom::testing
