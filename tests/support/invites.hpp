#pragma once
// The operator's invite routes as the e2e tests drive them (docs/invites.md): mint, and find one
// code in the listing. Failures are recorded (ADD_FAILURE) and give an empty result.
#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {

std::string InvitesPath(std::string_view queue);

// POST .../invites with `spec`; the minted invites (none unless 201).
std::vector<boost::json::value> MustMint(const AnteroomProcess& server, std::string_view queue,
                                         const boost::json::object& spec = {});
// Mints one code like `spec` and returns it ("" unless exactly one was minted).
std::string MustMintOne(const AnteroomProcess& server, std::string_view queue,
                        const boost::json::object& spec = {});
// The invite `code` as GET .../invites shows it (null if absent).
boost::json::value ListedInvite(const AnteroomProcess& server, std::string_view queue,
                                std::string_view code);

}  // namespace anteroom::testing
