#pragma once
// The operator's dashboard as the e2e tests read it (docs/api.md "Operator's dashboard"): the
// overview frame and its rows. Failures are recorded (ADD_FAILURE) and give null.
#include <boost/json.hpp>
#include <string_view>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {

// GET /v1/admin/overview with the admin token (null unless 200).
boost::json::value Overview(const AnteroomProcess& p);
// The overview's row of queue `q` / of process `node` (null if it lists none).
boost::json::value QueueRow(const boost::json::value& overview, std::string_view q);
boost::json::value ProcessRow(const boost::json::value& overview, std::string_view node);

}  // namespace anteroom::testing
