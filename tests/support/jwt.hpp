// HS256 JSON Web Tokens crafted and checked independently of the server's code (OpenSSL HMAC),
// so tests can forge, tamper with and expire tokens, and verify the server's tokens offline the
// way a protected site would.
// All functions are pure and thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom::testing {

std::string Base64UrlEncode(std::string_view bytes);
// Decodes unpadded (or padded) base64url; nullopt on a character outside the alphabet.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// `base64url(header).base64url(claims).base64url(HMAC-SHA256(secret, first two parts))`.
// `header` defaults to {"alg":"HS256","typ":"JWT"}.
std::string MakeJwt(const boost::json::object& claims, std::string_view secret,
                    const boost::json::object* header = nullptr);

struct JwtParts {
  boost::json::value header;
  boost::json::value claims;
  std::string signing_input;  // "header.payload" as received
  std::string signature;      // raw bytes
};
// Splits and decodes a token without checking its signature; nullopt if malformed.
std::optional<JwtParts> DecodeJwt(std::string_view token);

// True if the token is well formed, alg is HS256 and the signature matches `secret`
// (expiry is not checked).
bool VerifyJwtSignature(std::string_view token, std::string_view secret);

// Replaces the payload of `token` with `claims`, keeping the original header and signature.
std::string ReplaceJwtClaims(std::string_view token, const boost::json::object& claims);

// Seconds since the Unix epoch.
long long UnixNow();

}  // namespace anteroom::testing
