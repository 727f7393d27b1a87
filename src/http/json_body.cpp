#include "http/json_body.hpp"

#include <algorithm>
#include <string>

namespace anteroom::http {

Result<boost::json::value> parse_object(std::string_view body, boost::json::storage_ptr sp) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec, std::move(sp));
  if (ec) return err(Errc::invalid_json, "the body is not valid JSON: " + ec.message());
  if (!v.is_object()) return err(Errc::bad_request, "the body must be a JSON object");
  return v;
}

std::optional<int64_t> json_integer(const boost::json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v.as_uint64(), INT64_MAX));
  return std::nullopt;
}

}  // namespace anteroom::http
