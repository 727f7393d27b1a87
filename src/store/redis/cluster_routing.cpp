#include "store/redis/cluster_routing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "store/redis/slots.hpp"

namespace anteroom::redis::cluster {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Commands that name no key (or only keys they do not route by): they go to any master.
constexpr std::string_view kKeyless[] = {
    "PING",   "INFO",     "SCRIPT",   "PUBLISH",  "CLUSTER", "CLIENT",   "SLOWLOG",   "WAIT",
    "DBSIZE", "TIME",     "CONFIG",   "FLUSHALL", "FLUSHDB", "ECHO",     "COMMAND",   "LATENCY",
    "DEBUG",  "SELECT",   "AUTH",     "HELLO",    "ASKING",  "READONLY", "READWRITE", "KEYS",
    "SCAN",   "RANDOMKEY", "FUNCTION", "ROLE",    "ACL",     "LASTSAVE", "MULTI",     "EXEC",
    "WAITAOF", "RESET"};

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<int> command_slot(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return std::nullopt;
  const std::string& name = argv[0];
  for (auto k : kKeyless)
    if (iequals(name, k)) return std::nullopt;
  if (iequals(name, "EVALSHA") || iequals(name, "EVAL") || iequals(name, "EVALSHA_RO") ||
      iequals(name, "EVAL_RO") || iequals(name, "FCALL") || iequals(name, "FCALL_RO")) {
    if (argv.size() < 4) return std::nullopt;
    auto n = to_int(argv[2]);
    if (!n || *n <= 0) return std::nullopt;
    return key_slot(argv[3]);
  }
  // A subcommand first, then the key (XGROUP CREATE key ..., XINFO STREAM key).
  if (iequals(name, "XGROUP") || iequals(name, "XINFO") || iequals(name, "OBJECT") ||
      iequals(name, "MEMORY")) {
    if (argv.size() < 3) return std::nullopt;
    return key_slot(argv[2]);
  }
  if (iequals(name, "XREAD") || iequals(name, "XREADGROUP")) {
    for (size_t i = 1; i + 1 < argv.size(); ++i)
      if (iequals(argv[i], "STREAMS")) return key_slot(argv[i + 1]);
    return std::nullopt;
  }
  return key_slot(argv[1]);
}

std::optional<Redirect> parse_redirect(const RedisReply& r) {
  if (!r.is_error()) return std::nullopt;
  std::string_view s = r.str;
  Redirect out;
  if (s.starts_with("MOVED ")) {
    s.remove_prefix(6);
  } else if (s.starts_with("ASK ")) {
    out.ask = true;
    s.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  auto sp = s.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  auto slot = to_int(s.substr(0, sp));
  std::string_view addr = s.substr(sp + 1);
  auto colon = addr.rfind(':');
  if (!slot || *slot < 0 || *slot >= kClusterSlots || colon == std::string_view::npos)
    return std::nullopt;
  auto port = to_int(addr.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return std::nullopt;
  out.slot = *slot;
  out.host = std::string(addr.substr(0, colon));
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  out.port = *port;
  return out;
}

std::string address(const std::string& host, int port) {
  return host + ":" + std::to_string(port);
}

std::optional<SlotMap> parse_cluster_slots(const RedisReply& r, const std::string& asked_host) {
  if (!r.is_array()) return std::nullopt;
  SlotMap m;
  m.slot_master.assign(kClusterSlots, -1);
  auto node = [&](const RedisReply& n) -> std::optional<std::pair<std::string, int>> {
    if (!n.is_array() || n.elements.size() < 2) return std::nullopt;
    auto port = n.elements[1].as_int();
    if (n.elements[0].type != RedisReply::Type::string || !port || *port < 1 || *port > 65535)
      return std::nullopt;
    std::string host = n.elements[0].str;
    if (host.empty() || host == "?") host = asked_host;
    return std::pair<std::string, int>{host, static_cast<int>(*port)};
  };
  for (const auto& range : r.elements) {
    if (!range.is_array() || range.elements.size() < 3) return std::nullopt;
    auto lo = range.elements[0].as_int();
    auto hi = range.elements[1].as_int();
    auto master = node(range.elements[2]);
    if (!lo || !hi || !master || *lo < 0 || *hi >= kClusterSlots || *lo > *hi) return std::nullopt;
    auto it = std::find(m.masters.begin(), m.masters.end(), *master);
    int index = static_cast<int>(it - m.masters.begin());
    if (it == m.masters.end()) m.masters.push_back(*master);
    for (int64_t s = *lo; s <= *hi; ++s) m.slot_master[static_cast<size_t>(s)] = index;
    for (size_t i = 3; i < range.elements.size(); ++i) {
      auto rep = node(range.elements[i]);
      if (rep && std::find(m.replicas.begin(), m.replicas.end(), *rep) == m.replicas.end())
        m.replicas.push_back(*rep);
    }
  }
  return m;
}

}  // namespace anteroom::redis::cluster
