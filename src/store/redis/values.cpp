// The value types of the Redis client: replies (and their conversion from hiredis), connection
// options from a URL, scripts with their SHA1.
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <boost/url/parse.hpp>
#include <charconv>
#include <cstdlib>
#include <optional>
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

namespace {

// "host[:port]" (an IPv6 host in brackets) of a redis-cluster:// URL; port 6379 if absent.
std::optional<std::pair<std::string, int>> parse_node(std::string_view s) {
  std::string_view host = s, port;
  bool with_port = false;
  if (s.starts_with('[')) {
    auto close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      with_port = true;
    }
  } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    with_port = true;
  }
  if (host.empty()) return std::nullopt;
  int p = 6379;
  if (with_port) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 1 ||
        p > 65535)
      return std::nullopt;
  }
  return std::pair<std::string, int>{std::string(host), p};
}

// redis-cluster://[[user]:password@]host[:port][,host[:port]...]: Boost.URL does not take a list
// of hosts, so the authority is split here and only the user info is decoded by Boost.URL.
Result<RedisOptions> cluster_from_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis-cluster://";
  std::string_view rest = url.substr(kScheme.size());
  auto bad = [&](const std::string& why) {
    return err(Errc::bad_request, "redis cluster URL " + why + ": " + std::string(url));
  };
  auto slash = rest.find_first_of("/?#");
  if (slash != std::string_view::npos) {
    std::string_view tail = rest.substr(slash);
    if (tail != "/") return bad("takes no /db, query or fragment (a cluster has database 0 only)");
    rest = rest.substr(0, slash);
  }
  RedisOptions o;
  o.cluster = true;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string authority = "redis://" + std::string(rest.substr(0, at)) + "@x";
    auto u = boost::urls::parse_uri(authority);  // views into `authority`
    if (!u) return bad("has a bad user or password");
    if (u->has_password()) {
      o.user = u->user();
      o.password = u->password();
    }
    rest = rest.substr(at + 1);
  }
  bool first = true;
  for (bool more = true; more;) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    more = comma != std::string_view::npos;
    if (more) rest = rest.substr(comma + 1);
    auto node = parse_node(item);
    if (!node) return bad("has a bad node '" + std::string(item) + "' (want host:port)");
    if (first) {
      o.host = node->first;
      o.port = node->second;
      first = false;
    } else {
      o.seeds.push_back(*node);
    }
  }
  return o;
}

}  // namespace

Result<RedisOptions> RedisOptions::from_url(std::string_view url) {
  if (url.starts_with("redis-cluster://")) return cluster_from_url(url);
  auto u = boost::urls::parse_uri(url);
  if (!u) return err(Errc::bad_request, "redis URL is not a URL: " + std::string(url));
  if (u->scheme() != "redis")
    return err(Errc::bad_request,
               "redis URL must start with redis:// or redis-cluster://: " + std::string(url));
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

RedisScript::RedisScript(std::string source, Durability durability)
    : source_(std::move(source)), durability_(durability) {
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
