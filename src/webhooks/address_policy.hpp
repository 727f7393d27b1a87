#pragma once
// Which addresses a webhook may be POSTed to. A webhook URL is operator input that makes this
// server send requests from inside the network it runs in; pointing one at loopback, link-local
// (cloud metadata at 169.254.169.254), private, unspecified or multicast addresses would turn the
// queue API into a way to reach services that are not meant to be reachable (SSRF). Those are
// refused unless the installation says otherwise (--webhook-allow-private).
//
// Checked twice: at PUT time for URLs whose host is an address literal (webhook_url_refusal),
// and at send time for every address a host name resolves to (sender.cpp), since a name can
// resolve anywhere. Pure functions, thread-safe.
#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom {

// True for loopback, link-local (169.254/16, fe80::/10), private (10/8, 172.16/12, 192.168/16,
// fc00::/7), unspecified, multicast and broadcast addresses, and IPv4-mapped IPv6 forms of them.
bool is_non_public(const boost::asio::ip::address& a);

// Why `url` may not be a webhook when private targets are not allowed: its host is an address
// literal that is_non_public, or "localhost". nullopt if the URL may be used (host names other
// than localhost are checked when they are resolved, at send time).
std::optional<std::string> webhook_url_refusal(std::string_view url);

}  // namespace anteroom
