#include "webhooks/address_policy.hpp"

#include <arpa/inet.h>

#include <boost/url/parse.hpp>
#include <cctype>

namespace anteroom {

namespace ip = boost::asio::ip;

namespace {

bool v4_non_public(const ip::address_v4& a) {
  auto b = a.to_bytes();
  return b[0] == 0                                // 0/8 "this network", incl. unspecified
         || b[0] == 10                            // 10/8
         || b[0] == 127                           // loopback
         || (b[0] == 169 && b[1] == 254)          // link-local, cloud metadata
         || (b[0] == 172 && (b[1] & 0xf0) == 16)  // 172.16/12
         || (b[0] == 192 && b[1] == 168)          // 192.168/16
         || (b[0] == 100 && (b[1] & 0xc0) == 64)  // 100.64/10 carrier-grade NAT
         || b[0] >= 224;                          // multicast, reserved, broadcast
}

}  // namespace

bool is_non_public(const ip::address& a) {
  if (a.is_v4()) return v4_non_public(a.to_v4());
  const ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) return v4_non_public(ip::make_address_v4(ip::v4_mapped, v6));
  auto b = v6.to_bytes();
  return v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() ||
         (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)  // fe80::/10 link-local
         || (b[0] & 0xfe) == 0xfc;                // fc00::/7 unique local
}

std::optional<std::string> webhook_url_refusal(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return std::nullopt;  // the URL's syntax is checked elsewhere
  std::optional<ip::address> literal;
  switch (u->host_type()) {
    case boost::urls::host_type::ipv4:
      literal = ip::make_address_v4(u->host_ipv4_address().to_bytes());
      break;
    case boost::urls::host_type::ipv6:
      literal = ip::make_address_v6(u->host_ipv6_address().to_bytes());
      break;
    case boost::urls::host_type::name: {
      std::string host = u->host();
      for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!host.empty() && host.back() == '.') host.pop_back();
      if (host == "localhost" || host.ends_with(".localhost"))
        return "webhook urls may not point at localhost (--webhook-allow-private allows it)";
      // Not a dotted quad for URLs, but the resolver reads "127.1", "2130706433" or "0x7f.1"
      // as IPv4 addresses (inet_aton forms): judge them as the address they are.
      in_addr a4{};
      if (inet_aton(host.c_str(), &a4) != 0) literal = ip::address_v4(ntohl(a4.s_addr));
      break;
    }
    default:
      break;
  }
  if (literal && is_non_public(*literal))
    return "webhook urls may not point at loopback, link-local, private, unspecified or "
           "multicast addresses (" +
           literal->to_string() + "; --webhook-allow-private allows them)";
  return std::nullopt;
}

}  // namespace anteroom
