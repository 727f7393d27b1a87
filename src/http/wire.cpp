#include "http/wire.hpp"

#include <charconv>
#include <cstring>

namespace anteroom::http {

namespace {

constexpr std::string_view kCrlf = "\r\n";

bool is_tchar(unsigned char c) {
  // RFC 9110 token characters.
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(token) for each comma-separated element of a list header.
template <class F>
void each_token(std::string_view list, F f) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    f(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

ParseOutcome fail(Errc code, std::string message) {
  ParseOutcome o;
  o.state = ParseOutcome::failed;
  o.error = err(code, std::move(message));
  return o;
}

ParseOutcome bad(std::string message) {
  return fail(Errc::bad_request, "malformed HTTP request: " + std::move(message));
}

// A chunked body starting at data[0]; appends the decoded bytes to `body`. On success,
// `used` is the bytes of data it took (chunks and trailers).
ParseOutcome parse_chunked(std::string_view data, const WireLimits& lim, std::string& body,
                           size_t& used) {
  size_t at = 0;
  for (;;) {
    size_t eol = data.find(kCrlf, at);
    if (eol == std::string_view::npos) {
      if (data.size() - at > 1024) return bad("chunk size line too long");
      return {};
    }
    std::string_view line = data.substr(at, eol - at);
    std::string_view hex = trim(line.substr(0, line.find(';')));
    uint64_t size = 0;
    auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || ec != std::errc() || p != hex.data() + hex.size())
      return bad("invalid chunk size");
    if (size > lim.max_body_bytes || body.size() + size > lim.max_body_bytes)
      return fail(Errc::payload_too_large, "request body exceeds the limit");
    at = eol + 2;
    if (size == 0) {
      // Trailers (ignored) up to an empty line.
      for (;;) {
        size_t end = data.find(kCrlf, at);
        if (end == std::string_view::npos) {
          if (data.size() - at > lim.max_header_bytes)
            return fail(Errc::headers_too_large, "request headers exceed the limit");
          return {};
        }
        bool last = end == at;
        at = end + 2;
        if (last) break;
      }
      used = at;
      ParseOutcome o;
      o.state = ParseOutcome::complete;
      return o;
    }
    if (data.size() - at < size + 2) return {};
    if (data.substr(at + size, 2) != kCrlf) return bad("chunk data not followed by CRLF");
    body.append(data.data() + at, size);
    at += size + 2;
  }
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

size_t max_request_bytes(const WireLimits& lim) {
  // Chunked framing may take more room than the body it carries; 4x bounds honest senders.
  return lim.max_header_bytes + 4 * lim.max_body_bytes + 4096;
}

ParseOutcome parse_request(std::string_view data, const WireLimits& lim, HttpRequest& out) {
  size_t start = 0;
  while (data.substr(start, 2) == kCrlf) start += 2;  // empty lines before a request are allowed
  size_t end = data.find("\r\n\r\n", start);
  if (end == std::string_view::npos) {
    if (data.size() - start > lim.max_header_bytes)
      return fail(Errc::headers_too_large, "request headers exceed the limit");
    return {};
  }
  if (end + 4 - start > lim.max_header_bytes)
    return fail(Errc::headers_too_large, "request headers exceed the limit");

  out.headers.clear();
  out.body.clear();
  out.expect_continue = false;
  std::string_view head = data.substr(start, end + 2 - start);  // every line ends with CRLF

  // Request line: method SP target SP HTTP/1.x
  size_t eol = head.find(kCrlf);
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad("bad request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return bad("bad method");
  if (target.empty()) return bad("empty target");
  for (unsigned char c : target)
    if (c <= 0x20 || c == 0x7f) return bad("bad target");
  if (version == "HTTP/1.1") out.version = 11;
  else if (version == "HTTP/1.0") out.version = 10;
  else return bad("unsupported HTTP version");
  out.method = bhttp::string_to_verb(method);
  out.target = target;

  // Header fields.
  bool close = false, keep = false, chunked = false, has_te = false;
  std::optional<uint64_t> length;
  size_t at = eol + 2;
  while (at < head.size()) {
    size_t e = head.find(kCrlf, at);
    std::string_view field = head.substr(at, e - at);
    at = e + 2;
    if (field.empty()) return bad("empty header line");
    if (field.front() == ' ' || field.front() == '\t') return bad("obsolete line folding");
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return bad("header line without a colon");
    std::string_view name = field.substr(0, colon);
    if (!is_token(name)) return bad("bad header name");
    std::string_view value = trim(field.substr(colon + 1));
    for (unsigned char c : value)
      if ((c < 0x20 && c != '\t') || c == 0x7f) return bad("control character in a header value");
    out.headers.emplace_back(name, value);

    if (iequals(name, "Content-Length")) {
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || p != value.data() + value.size())
        return bad("bad Content-Length");
      if (length && *length != n) return bad("conflicting Content-Length");
      length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      has_te = true;
      // Only chunked, and it must come last; gzip and friends are not ours to undo.
      chunked = false;
      bool other = false;
      each_token(value, [&](std::string_view t) {
        if (t.empty()) return;
        if (chunked) other = true;  // something after chunked
        if (iequals(t, "chunked")) chunked = true;
        else other = true;
      });
      if (other || !chunked) return bad("unsupported Transfer-Encoding");
    } else if (iequals(name, "Connection")) {
      each_token(value, [&](std::string_view t) {
        if (iequals(t, "close")) close = true;
        else if (iequals(t, "keep-alive")) keep = true;
      });
    } else if (iequals(name, "Expect")) {
      if (iequals(value, "100-continue")) out.expect_continue = out.version == 11;
    }
  }
  if (has_te && length) return bad("both Content-Length and Transfer-Encoding");
  out.keep_alive = !close && (out.version == 11 || keep);

  size_t body_at = end + 4;
  ParseOutcome o;
  if (chunked) {
    size_t used = 0;
    o = parse_chunked(data.substr(body_at), lim, out.body, used);
    if (o.state != ParseOutcome::complete) {
      if (o.state == ParseOutcome::incomplete) {
        out.body.clear();
        o.headers_done = true;
      }
      return o;
    }
    o.consumed = body_at + used;
    return o;
  }
  uint64_t n = length.value_or(0);
  if (n > lim.max_body_bytes) return fail(Errc::payload_too_large, "request body exceeds the limit");
  if (data.size() - body_at < n) {
    o.headers_done = true;
    return o;
  }
  out.body.assign(data.data() + body_at, n);
  o.state = ParseOutcome::complete;
  o.consumed = body_at + n;
  return o;
}

void serialize(const HttpResponse& res, unsigned version, bool keep_alive, bool head,
               std::string& out) {
  auto code = static_cast<unsigned>(res.status);
  char num[24];
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  auto [p, ec] = std::to_chars(num, num + sizeof num, code);
  out.append(num, p);
  out += ' ';
  out += bhttp::obsolete_reason(res.status);
  out += kCrlf;
  auto field = [&](std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += kCrlf;
  };
  if (!res.content_type.empty()) field("Content-Type", res.content_type);
  if (!res.cache_control.empty()) field("Cache-Control", res.cache_control);
  for (const auto& [n, v] : res.extra) field(n, v);
  // 1xx, 204 and 304 carry no body and no length.
  bool bodiless = code < 200 || code == 204 || code == 304;
  if (!bodiless) {
    auto [q, ec2] = std::to_chars(num, num + sizeof num, res.body.size());
    field("Content-Length", std::string_view(num, static_cast<size_t>(q - num)));
  }
  if (!keep_alive) field("Connection", "close");
  else if (version == 10) field("Connection", "keep-alive");
  out += kCrlf;
  if (!head && !bodiless) out += res.body;
}

}  // namespace anteroom::http
