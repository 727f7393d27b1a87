#include "http/wire.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
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

// Fields a trailer may not carry (RFC 9110 §6.5.1): framing, routing and connection control.
// A front proxy may act on them (Beast refuses a Transfer-Encoding there) or not; we refuse.
bool framing_field(std::string_view name) {
  for (std::string_view f : {"Transfer-Encoding", "Content-Length", "Connection", "Host",
                             "Keep-Alive", "TE", "Trailer", "Upgrade"})
    if (iequals(name, f)) return true;
  return false;
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

bool is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  char l = lower(c);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}

// A chunk-size line (size and extensions) longer than this is refused, however it arrives:
// no honest sender pads a size with a thousand zeros.
constexpr size_t kMaxChunkLine = 1024;

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

ParseOutcome RequestParser::fail(Errc code, std::string message) {
  phase_ = Phase::failed;
  ParseOutcome o;
  o.state = ParseOutcome::failed;
  o.error = err(code, std::move(message));
  return o;
}

ParseOutcome RequestParser::bad(std::string message) {
  return fail(Errc::bad_request, "malformed HTTP request: " + std::move(message));
}

void RequestParser::reset() {
  phase_ = Phase::lead;
  pos_ = start_ = head_bytes_ = body_at_ = trailer_at_ = line_len_ = 0;
  prev_ = 0;
  length_ = remaining_ = 0;
  digits_ = 0;
  chunked_ = false;
  base_ = nullptr;
}

// The connection's buffer grows by reallocation: move `out`'s views to where the bytes are now
// (offsets are kept, the bytes are the same).
void RequestParser::rebase(std::string_view data, HttpRequest& out) {
  if (base_ == nullptr || base_ == data.data()) return;
  auto old_base = reinterpret_cast<uintptr_t>(base_);
  auto move = [&](std::string_view& v) {
    if (v.empty()) return;
    v = std::string_view(data.data() + (reinterpret_cast<uintptr_t>(v.data()) - old_base),
                         v.size());
  };
  move(out.target);
  for (auto& [n, v] : out.headers) {
    move(n);
    move(v);
  }
  base_ = data.data();
}

// The request line and header fields, every line ending in CRLF (the scan has refused bare CR
// and LF already). Sets `out`'s head and this parser's framing.
std::optional<Error> RequestParser::parse_head(std::string_view head, HttpRequest& out) {
  auto bad = [](std::string m) { return err(Errc::bad_request, "malformed HTTP request: " + m); };
  out.headers.clear();
  out.body.clear();
  out.expect_continue = false;

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
  bool close = false, keep = false, has_te = false;
  unsigned chunked = 0;  // times chunked was applied, over every Transfer-Encoding field
  bool chunked_last = false;
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
      if (is_ctl(c)) return bad("control character in a header value");
    out.headers.emplace_back(name, value);

    if (iequals(name, "Content-Length")) {
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || p != value.data() + value.size())
        return bad("bad Content-Length");
      if (length && *length != n) return bad("conflicting Content-Length");
      length = n;
    } else if (iequals(name, "Transfer-Encoding")) {
      // Only chunked, once, and last (RFC 9112 6.1), counted over all the fields together: a
      // proxy that reads only the first or the last field must not see other framing than us.
      // gzip and friends are not ours to undo.
      has_te = true;
      bool other = false, any = false;
      each_token(value, [&](std::string_view t) {
        if (t.empty()) return;
        any = true;
        if (iequals(t, "chunked")) ++chunked, chunked_last = true;
        else other = true, chunked_last = false;
      });
      if (other || !any) return bad("unsupported Transfer-Encoding");
      if (chunked > 1) return bad("chunked applied more than once");
    } else if (iequals(name, "Connection")) {
      // A list of tokens (RFC 9110 §7.6.1); anything else is refused, as Beast does.
      bool bad_option = false;
      each_token(value, [&](std::string_view t) {
        if (!t.empty() && !is_token(t)) bad_option = true;
        if (iequals(t, "close")) close = true;
        else if (iequals(t, "keep-alive")) keep = true;
      });
      if (bad_option) return bad("invalid Connection option");
    } else if (iequals(name, "Expect")) {
      if (iequals(value, "100-continue")) out.expect_continue = out.version == 11;
    }
  }
  if (has_te && !chunked_last) return bad("unsupported Transfer-Encoding");
  if (has_te && length) return bad("both Content-Length and Transfer-Encoding");
  // HTTP/1.0 with Transfer-Encoding: the framing may be read otherwise upstream; answer, then
  // close (RFC 9112 6.1).
  out.keep_alive = !close && (out.version == 11 || keep) && !(has_te && out.version == 10);
  chunked_ = has_te;
  length_ = length.value_or(0);
  return std::nullopt;
}

ParseOutcome RequestParser::parse(std::string_view data, HttpRequest& out) {
  ++steps_;
  if (phase_ == Phase::failed) return bad("parse after a failure");
  rebase(data, out);
  const size_t n = data.size();
  size_t i = pos_;
  ParseOutcome o;
  // A Content-Length body may be complete with no byte left to examine (a GET).
  while (phase_ != Phase::done && (i < n || phase_ == Phase::length_body)) {
    char c = i < n ? data[i] : '\0';
    switch (phase_) {
      case Phase::lead:
        // Empty lines before a request are allowed (RFC 9112 2.2), but not without bound.
        if (i >= lim_.max_header_bytes)
          return fail(Errc::headers_too_large, "request headers exceed the limit");
        ++steps_;
        if (prev_ == '\r' && c != '\n') return bad("bare CR");
        if (c == '\n' && prev_ != '\r') return bad("bare LF");
        if (c == '\r' || c == '\n') {
          prev_ = c;
          ++i;
          break;
        }
        prev_ = 0;
        --steps_;  // counted again in the head
        start_ = i;
        line_len_ = 0;
        phase_ = Phase::head;
        [[fallthrough]];
      case Phase::head: {
        // Scan to the empty line, refusing bare CR and LF as they come (a request that ends its
        // lines with LF alone gets its 400 now, not after the idle timeout). memchr finds each
        // line's CR; the bytes before it must hold no LF.
        bool head_done = false;
        while (i < n && !head_done) {
          if (i - start_ >= lim_.max_header_bytes)
            return fail(Errc::headers_too_large, "request headers exceed the limit");
          if (prev_ == '\r') {
            ++steps_;
            if (data[i] != '\n') return bad("bare CR");
            prev_ = '\n';
            ++i;
            head_done = line_len_ == 0;  // an empty line ends the head
            line_len_ = 0;
            continue;
          }
          size_t bound = std::min(n, start_ + lim_.max_header_bytes);
          const char* from = data.data() + i;
          auto* cr = static_cast<const char*>(std::memchr(from, '\r', bound - i));
          size_t end = cr ? static_cast<size_t>(cr - data.data()) : bound;
          if (std::memchr(from, '\n', end - i)) return bad("bare LF");
          steps_ += end - i;
          line_len_ += end - i;
          prev_ = cr ? '\r' : 0;
          i = cr ? end + 1 : end;
        }
        if (!head_done) break;
        head_bytes_ = i - start_;
        if (auto e = parse_head(data.substr(start_, i - 2 - start_), out)) {
          phase_ = Phase::failed;
          o.state = ParseOutcome::failed;
          o.error = std::move(e);
          return o;
        }
        base_ = data.data();
        body_at_ = i;
        if (chunked_) {
          phase_ = Phase::chunk_size;
          length_ = digits_ = 0;
          line_len_ = 0;
        } else {
          if (length_ > lim_.max_body_bytes)
            return fail(Errc::payload_too_large, "request body exceeds the limit");
          phase_ = Phase::length_body;
        }
        break;
      }
      case Phase::length_body:
        if (n - body_at_ < length_) {
          pos_ = n;
          o.headers_done = true;
          return o;
        }
        out.body.assign(data.data() + body_at_, length_);
        steps_ += length_;
        i = body_at_ + length_;
        phase_ = Phase::done;
        break;
      case Phase::chunk_size: {
        ++steps_;
        if (++line_len_ > kMaxChunkLine) return bad("chunk size line too long");
        int d = hex_value(c);
        if (d >= 0) {
          ++digits_;
          length_ = length_ * 16 + static_cast<unsigned>(d);
          // Checked per digit, so the size never overflows.
          if (length_ > lim_.max_body_bytes || out.body.size() + length_ > lim_.max_body_bytes)
            return fail(Errc::payload_too_large, "request body exceeds the limit");
        } else if (digits_ == 0) {
          return bad("invalid chunk size");
        } else if (c == ';') {
          phase_ = Phase::chunk_ext;
          ext_ = Ext::before_name;
        } else if (c == '\r') {
          phase_ = Phase::chunk_size_lf;
        } else {
          return bad("invalid chunk size");  // whitespace, a bare LF, anything else
        }
        ++i;
        break;
      }
      case Phase::chunk_ext: {
        // Extensions are ignored, but must follow RFC 9112 §7.1.1 to the letter, so that no
        // proxy in front can read their bytes otherwise: *( BWS ";" BWS name [ BWS "=" BWS
        // ( token / quoted-string ) ] ), no whitespace at the end of the line.
        ++steps_;
        if (++line_len_ > kMaxChunkLine) return bad("chunk size line too long");
        const auto u = static_cast<unsigned char>(c);
        if (c == '\n') return bad("bare LF in a chunk extension");
        if (ext_ == Ext::quoted || ext_ == Ext::escaped) {
          if (is_ctl(u)) return bad("control character in a chunk extension");
          if (ext_ == Ext::escaped) ext_ = Ext::quoted;
          else if (c == '\\') ext_ = Ext::escaped;
          else if (c == '"') ext_ = Ext::after_value;
          ++i;
          break;
        }
        const bool ws = c == ' ' || c == '\t';
        const bool may_end = ext_ == Ext::name || ext_ == Ext::token || ext_ == Ext::after_value;
        if (c == '\r' && may_end) {
          phase_ = Phase::chunk_size_lf;
        } else if (ws && ext_ != Ext::name && ext_ != Ext::token && ext_ != Ext::after_value) {
          // BWS where it may stand: before a name, around '=', before the next ';'
        } else if (ws) {
          ext_ = ext_ == Ext::name ? Ext::after_name : Ext::after_ws;
        } else if (c == ';' && ext_ != Ext::before_name && ext_ != Ext::before_value) {
          ext_ = Ext::before_name;
        } else if (c == '=' && (ext_ == Ext::name || ext_ == Ext::after_name)) {
          ext_ = Ext::before_value;
        } else if (is_tchar(u) && (ext_ == Ext::before_name || ext_ == Ext::name)) {
          ext_ = Ext::name;
        } else if (is_tchar(u) && (ext_ == Ext::before_value || ext_ == Ext::token)) {
          ext_ = Ext::token;
        } else if (c == '"' && ext_ == Ext::before_value) {
          ext_ = Ext::quoted;
        } else {
          return bad("invalid chunk extension");
        }
        ++i;
        break;
      }
      case Phase::chunk_size_lf:
        ++steps_;
        if (c != '\n') return bad("bare CR in a chunk size line");
        ++i;
        if (length_ == 0) {
          phase_ = Phase::trailer_start;
          trailer_at_ = i;
        } else {
          remaining_ = length_;
          phase_ = Phase::chunk_data;
        }
        break;
      case Phase::chunk_data: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n - i));
        out.body.append(data.data() + i, take);
        steps_ += take;
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::chunk_data_cr;
        break;
      }
      case Phase::chunk_data_cr:
      case Phase::chunk_data_lf:
        ++steps_;
        if (c != (phase_ == Phase::chunk_data_cr ? '\r' : '\n'))
          return bad("chunk data not followed by CRLF");
        ++i;
        if (phase_ == Phase::chunk_data_cr) {
          phase_ = Phase::chunk_data_lf;
        } else {
          phase_ = Phase::chunk_size;
          length_ = digits_ = 0;
          line_len_ = 0;
        }
        break;
      default: {
        // The trailer section: fields checked like headers, byte by byte, and counted with the
        // head against the header limit.
        if (head_bytes_ + (i - trailer_at_) >= lim_.max_header_bytes)
          return fail(Errc::headers_too_large, "request headers exceed the limit");
        ++steps_;
        auto u = static_cast<unsigned char>(c);
        switch (phase_) {
          case Phase::trailer_start:
            if (c == '\r') phase_ = Phase::end_lf;
            else if (c == ' ' || c == '\t') return bad("obsolete line folding in a trailer");
            else if (is_tchar(u)) phase_ = Phase::trailer_name, field_at_ = i;
            else return bad("bad trailer field");
            break;
          case Phase::trailer_name:
            if (c == ':') {
              phase_ = Phase::trailer_value;
              if (framing_field(data.substr(field_at_, i - field_at_)))
                return bad("framing or connection field in a trailer");
            } else if (!is_tchar(u)) {
              return bad("trailer line without a colon");
            }
            break;
          case Phase::trailer_value:
            if (c == '\r') phase_ = Phase::trailer_lf;
            else if (c == '\n') return bad("bare LF in a trailer");
            else if (is_ctl(u)) return bad("control character in a trailer");
            break;
          case Phase::trailer_lf:
          case Phase::end_lf:
            if (c != '\n') return bad("bare CR in a trailer");
            phase_ = phase_ == Phase::end_lf ? Phase::done : Phase::trailer_start;
            break;
          default:
            return bad("parser state");
        }
        ++i;
        break;
      }
    }
  }
  pos_ = i;
  if (phase_ == Phase::done) {
    o.state = ParseOutcome::complete;
    o.consumed = i;
    return o;
  }
  o.headers_done = phase_ != Phase::lead && phase_ != Phase::head;
  return o;
}

ParseOutcome parse_request(std::string_view data, const WireLimits& limits, HttpRequest& out) {
  RequestParser parser(limits);
  return parser.parse(data, out);
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
