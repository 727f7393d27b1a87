#include "token/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

namespace anteroom {

namespace {
// The header is constant, so its encoding is too.
const std::string kHeader = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");

Error bad(std::string msg) { return err(Errc::unauthorized, std::move(msg)); }
}  // namespace

TokenSigner::TokenSigner(std::string secret) : secret_(std::move(secret)) {}

std::string TokenSigner::mac(std::string_view input) const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), md, &len);
  return base64url_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string TokenSigner::sign(const TokenClaims& c) const {
  boost::json::object p;
  p["queue"] = c.queue;
  p["ticket"] = c.ticket;
  p["exp"] = c.exp;
  std::string input = kHeader + "." + base64url_encode(boost::json::serialize(p));
  return input + "." + mac(input);
}

Result<TokenClaims> TokenSigner::verify(std::string_view token, int64_t now_s) const {
  if (token.size() > 4096) return bad("token too long");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return bad("token is not a JWT");
  std::string_view input = token.substr(0, d2);
  std::string_view sig = token.substr(d2 + 1);
  std::string expect = mac(input);
  if (sig.size() != expect.size() || CRYPTO_memcmp(sig.data(), expect.data(), sig.size()) != 0)
    return bad("token signature is invalid");
  std::string header, payload;
  if (!base64url_decode(token.substr(0, d1), header) ||
      !base64url_decode(token.substr(d1 + 1, d2 - d1 - 1), payload))
    return bad("token is not valid base64url");
  boost::system::error_code ec;
  auto h = boost::json::parse(header, ec);
  if (ec || !h.is_object() || !h.as_object().contains("alg") ||
      h.as_object().at("alg") != "HS256")
    return bad("token algorithm must be HS256");
  auto p = boost::json::parse(payload, ec);
  if (ec || !p.is_object()) return bad("token payload is not a JSON object");
  const auto& o = p.as_object();
  auto* q = o.if_contains("queue");
  auto* t = o.if_contains("ticket");
  auto* e = o.if_contains("exp");
  if (!q || !q->is_string() || !t || !t->is_string() || !e || !e->is_int64())
    return bad("token lacks queue, ticket or exp");
  TokenClaims c{std::string(q->as_string()), std::string(t->as_string()), e->as_int64()};
  if (c.exp <= now_s) return bad("token has expired");
  return c;
}

}  // namespace anteroom
