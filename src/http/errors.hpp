#pragma once
// The one place where an Error becomes an HTTP status and a JSON body.
#include <boost/beast/http.hpp>

#include "core/error.hpp"

namespace anteroom::http {

namespace bhttp = boost::beast::http;
using Response = bhttp::response<bhttp::string_body>;

bhttp::status status_of(Errc c);
std::string_view code_of(Errc c);
// {"error":"<code>","message":"<text>"}, with Retry-After where a retry makes sense.
Response error_response(const Error& e, unsigned version = 11);

}  // namespace anteroom::http
