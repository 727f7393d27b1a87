#include "support/dashboard.hpp"

#include <gtest/gtest.h>

#include "support/json_util.hpp"

namespace anteroom::testing {

namespace json = boost::json;

namespace {

json::value Row(const json::value& overview, std::string_view list, std::string_view key,
                std::string_view name) {
  const json::value* rows = Field(overview, list);
  if (rows == nullptr || !rows->is_array()) return nullptr;
  for (const json::value& row : rows->as_array())
    if (Str(row, key) == name) return row;
  return nullptr;
}

}  // namespace

json::value Overview(const AnteroomProcess& p) {
  HttpResponse r = p.Admin("GET", "/v1/admin/overview");
  if (r.status != 200) {
    ADD_FAILURE() << "overview: " << r;
    return nullptr;
  }
  return r.Json();
}

json::value QueueRow(const json::value& overview, std::string_view q) {
  return Row(overview, "queues", "name", q);
}

json::value ProcessRow(const json::value& overview, std::string_view node) {
  return Row(overview, "processes", "node", node);
}

}  // namespace anteroom::testing
