#include "support/draw_check.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <stdexcept>
#include <utility>

#include "support/json_util.hpp"

namespace anteroom::testing {
namespace {

std::string Sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string Base64UrlNoPad(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

// The path and query of `next` (the server may send a path or a full URL to itself).
std::string Target(const std::string& next) {
  if (!next.empty() && next.front() == '/') return next;
  auto u = boost::urls::parse_uri(next);
  if (!u) return next;
  std::string t(u->encoded_path());
  if (u->has_query()) t += "?" + std::string(u->encoded_query());
  return t;
}

}  // namespace

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string FromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("not hex");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd length hex");
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<char>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  return out;
}

std::string EntryId(std::string_view ticket) {
  std::string digest = Sha256("anteroom-entry-v1:" + std::string(ticket));
  return Base64UrlNoPad(std::string_view(digest).substr(0, 16));
}

std::string Commitment(std::string_view seed) { return ToHex(Sha256(seed)); }

std::string DrawKey(std::string_view seed, std::string_view entry_id) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), seed.data(), static_cast<int>(seed.size()),
       reinterpret_cast<const unsigned char*>(entry_id.data()), entry_id.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::vector<std::string> DrawOrder(std::string_view seed, std::vector<std::string> entry_ids) {
  std::vector<std::pair<std::string, std::string>> keyed;  // (key, entry id)
  keyed.reserve(entry_ids.size());
  for (auto& e : entry_ids) keyed.emplace_back(DrawKey(seed, e), std::move(e));
  // std::string compares char_traits<char>::compare = memcmp order: unsigned bytes, as the
  // algorithm says (not signed chars), then the entry id.
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string> out;
  out.reserve(keyed.size());
  for (auto& [key, e] : keyed) out.push_back(std::move(e));
  return out;
}

PublishedDraw DownloadDraw(const HttpClient& server, std::string_view queue) {
  PublishedDraw draw;
  std::string target = "/v1/queues/" + std::string(queue) + "/draw";
  while (!target.empty()) {
    if (draw.pages >= 1000) {
      ADD_FAILURE() << "more than 1000 pages of /draw";
      return draw;
    }
    HttpResponse r = server.Request("GET", target);
    if (r.status != 200) {
      ADD_FAILURE() << "GET " << target << ": " << r;
      return draw;
    }
    boost::json::value v = r.Json();
    if (!v.is_object()) return draw;
    if (Int(v, "after") != static_cast<long long>(draw.entries.size())) {
      ADD_FAILURE() << "GET " << target << ": page after " << Int(v, "after").value_or(-1)
                    << ", expected " << draw.entries.size();
      return draw;
    }
    const boost::json::value* entries = Field(v, "entries");
    if (entries == nullptr || !entries->is_array()) {
      ADD_FAILURE() << "GET " << target << ": no entries list: " << r;
      return draw;
    }
    for (const auto& e : entries->as_array())
      draw.entries.push_back(e.is_string() ? std::string(e.as_string()) : std::string());
    const boost::json::value* next = Field(v, "next");
    target = next != nullptr && next->is_string() ? Target(std::string(next->as_string())) : "";
    if (draw.pages++ == 0) {
      draw.fields = v.as_object();
      draw.fields.erase("entries");
      draw.fields.erase("next");
    }
  }
  return draw;
}

std::string DrawDocument(const PublishedDraw& draw) {
  boost::json::object doc = draw.fields;
  doc["after"] = 0;
  boost::json::array entries;
  entries.reserve(draw.entries.size());
  for (const auto& e : draw.entries) entries.emplace_back(e);
  doc["entries"] = std::move(entries);
  doc["next"] = nullptr;
  return boost::json::serialize(doc);
}

}  // namespace anteroom::testing
