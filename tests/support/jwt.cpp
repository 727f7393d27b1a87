#include "support/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>

namespace anteroom::testing {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::optional<boost::json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  std::size_t i = 0;
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    unsigned v = b(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    unsigned v = (b(i) << 16) | (b(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string MakeJwt(const boost::json::object& claims, std::string_view secret,
                    const boost::json::object* header) {
  boost::json::object default_header{{"alg", "HS256"}, {"typ", "JWT"}};
  std::string input = Base64UrlEncode(boost::json::serialize(header ? *header : default_header)) +
                      "." + Base64UrlEncode(boost::json::serialize(claims));
  return input + "." + Base64UrlEncode(HmacSha256(secret, input));
}

std::optional<JwtParts> DecodeJwt(std::string_view token) {
  auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto header = Base64UrlDecode(token.substr(0, dot1));
  auto claims = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header || !claims || !signature) return std::nullopt;
  auto h = ParseJson(*header);
  auto c = ParseJson(*claims);
  if (!h || !c) return std::nullopt;
  return JwtParts{std::move(*h), std::move(*c), std::string(token.substr(0, dot2)),
                  std::move(*signature)};
}

bool VerifyJwtSignature(std::string_view token, std::string_view secret) {
  auto parts = DecodeJwt(token);
  if (!parts || !parts->header.is_object()) return false;
  const auto* alg = parts->header.as_object().if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256") return false;
  std::string expected = HmacSha256(secret, parts->signing_input);
  return expected.size() == parts->signature.size() &&
         CRYPTO_memcmp(expected.data(), parts->signature.data(), expected.size()) == 0;
}

std::string ReplaceJwtClaims(std::string_view token, const boost::json::object& claims) {
  auto dot1 = token.find('.');
  auto dot2 = token.rfind('.');
  return std::string(token.substr(0, dot1)) + "." +
         Base64UrlEncode(boost::json::serialize(claims)) + std::string(token.substr(dot2));
}

long long UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace anteroom::testing
