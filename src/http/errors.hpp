#pragma once
// The one place where an Error becomes an HTTP status and a JSON body.
#include "core/error.hpp"
#include "http/wire.hpp"

namespace anteroom::http {

bhttp::status status_of(Errc c);
std::string_view code_of(Errc c);
// {"error":"<code>","message":"<text>"}, with Retry-After where a retry makes sense.
HttpResponse error_response(const Error& e);

}  // namespace anteroom::http
