// The value types of the Redis client: replies (and their conversion from hiredis), connection
// options from a URL, scripts with their SHA1.
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <boost/url/parse.hpp>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

#include "store/redis/pending.hpp"
#include "store/redis/redis_client.hpp"

namespace anteroom::redis {

RedisReply convert(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    default:
      break;
  }
  return out;
}

std::optional<int64_t> RedisReply::as_int() const {
  if (type == Type::integer) return integer;
  if (type != Type::string && type != Type::status) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(str.data(), str.data() + str.size(), v);
  if (ec != std::errc() || p != str.data() + str.size()) return std::nullopt;
  return v;
}

std::optional<double> RedisReply::as_double() const {
  if (type == Type::integer) return static_cast<double>(integer);
  if ((type != Type::string && type != Type::status) || str.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(str.c_str(), &end);
  if (end != str.c_str() + str.size()) return std::nullopt;
  return v;
}

Result<RedisOptions> RedisOptions::from_url(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return err(Errc::bad_request, "redis URL is not a URL: " + std::string(url));
  if (u->scheme() != "redis")
    return err(Errc::bad_request, "redis URL must start with redis://: " + std::string(url));
  RedisOptions o;
  if (!u->host_address().empty()) o.host = std::string(u->host_address());
  if (u->has_port()) {
    std::string_view p = u->port();
    int port = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535)
      return err(Errc::bad_request, "redis URL has a bad port: " + std::string(url));
    o.port = port;
  }
  std::string path = u->path();
  if (path.size() > 1) {
    int db = -1;
    auto [end, ec] = std::from_chars(path.data() + 1, path.data() + path.size(), db);
    if (ec != std::errc() || end != path.data() + path.size() || db < 0)
      return err(Errc::bad_request, "redis URL path must be /<db number>: " + std::string(url));
    o.db = db;
  }
  if (u->has_password()) {
    o.user = u->user();
    o.password = u->password();
  }
  return o;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(source_.data(), source_.size(), md, &len, EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("SHA1 of a Lua script failed");
  static constexpr char kHex[] = "0123456789abcdef";
  sha_.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    sha_.push_back(kHex[md[i] >> 4]);
    sha_.push_back(kHex[md[i] & 15]);
  }
}

}  // namespace anteroom::redis
