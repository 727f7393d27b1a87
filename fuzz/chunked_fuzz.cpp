// The chunked body decoder, through the request parser (it has no API of its own): the fuzzer
// writes what follows a fixed `Transfer-Encoding: chunked` head. Input: 4 bytes of split seed,
// then the chunked body (chunks, last chunk, trailers) and anything after it.
// Checks, beyond request_parser_fuzz's: a body the parser accepts is exactly what a strict
// RFC 9112 §7.1 decoder (below) makes of the same bytes, and ends where it ends. The parser may
// refuse what the reference accepts (a limit), never accept what it refuses.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "feed.hpp"

using namespace anteroom;

namespace {

constexpr std::string_view kHead = "POST /v1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return true;
  return c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                       std::string_view::npos;
}

// RFC 9112 §7.1 with RFC 9110 field syntax, strictly: chunk-size is 1*HEXDIG with nothing around
// it; an extension is ;name[=token|quoted-string] with optional BWS; every line ends in CRLF;
// a trailer field is token ":" value without control bytes. Returns the decoded body and the
// bytes used, or nothing if the framing is bad or unfinished.
struct Decoded {
  std::string body;
  size_t used = 0;
};
std::optional<Decoded> strict_decode(std::string_view d) {
  Decoded out;
  size_t at = 0;
  auto line_end = [&](size_t from) -> size_t {
    size_t e = d.find("\r\n", from);
    if (e == std::string_view::npos) return e;
    // A bare CR or LF inside the line is not allowed.
    for (size_t i = from; i < e; ++i)
      if (d[i] == '\r' || d[i] == '\n') return std::string_view::npos;
    return e;
  };
  for (;;) {
    size_t e = line_end(at);
    if (e == std::string_view::npos) return std::nullopt;
    std::string_view line = d.substr(at, e - at);
    size_t i = 0;
    uint64_t size = 0;
    while (i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i]))) {
      if (size > (uint64_t{1} << 40)) return std::nullopt;
      size = size * 16 + (std::isdigit(static_cast<unsigned char>(line[i]))
                              ? line[i] - '0'
                              : (line[i] | 0x20) - 'a' + 10);
      ++i;
    }
    if (i == 0) return std::nullopt;
    // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
    auto skip_ws = [&] {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    };
    auto token = [&] {
      size_t s = i;
      while (i < line.size() && is_tchar(static_cast<unsigned char>(line[i]))) ++i;
      return i > s;
    };
    while (i < line.size()) {
      skip_ws();
      if (i >= line.size() || line[i] != ';') return std::nullopt;
      ++i;
      skip_ws();
      if (!token()) return std::nullopt;
      size_t save = i;
      skip_ws();
      if (i < line.size() && line[i] == '=') {
        ++i;
        skip_ws();
        if (i < line.size() && line[i] == '"') {
          ++i;
          bool closed = false;
          while (i < line.size()) {
            unsigned char c = line[i++];
            if (c == '"') { closed = true; break; }
            if (c == '\\') {
              if (i >= line.size()) return std::nullopt;
              c = line[i++];
              if (c < 0x20 && c != '\t') return std::nullopt;
              if (c == 0x7f) return std::nullopt;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
              return std::nullopt;
            }
          }
          if (!closed) return std::nullopt;
        } else if (!token()) {
          return std::nullopt;
        }
      } else {
        i = save;
      }
    }
    at = e + 2;
    if (size == 0) break;
    if (d.size() - at < size + 2) return std::nullopt;
    if (d.substr(at + size, 2) != "\r\n") return std::nullopt;
    out.body.append(d.substr(at, size));
    at += size + 2;
  }
  // trailer-section = *( field-line CRLF ) CRLF
  for (;;) {
    size_t e = line_end(at);
    if (e == std::string_view::npos) return std::nullopt;
    std::string_view field = d.substr(at, e - at);
    at = e + 2;
    if (field.empty()) break;
    size_t colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
    for (size_t k = 0; k < colon; ++k)
      if (!is_tchar(static_cast<unsigned char>(field[k]))) return std::nullopt;
    for (unsigned char c : field.substr(colon + 1))
      if ((c < 0x20 && c != '\t') || c == 0x7f) return std::nullopt;
  }
  out.used = at;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t seed = data[0] | data[1] << 8 | data[2] << 16 | static_cast<uint32_t>(data[3]) << 24;
  std::string_view chunked(reinterpret_cast<const char*>(data) + 4, size - 4);
  std::string stream(kHead);
  stream += chunked;
  http::WireLimits lim;  // the product's defaults

  auto whole = fuzz::feed(stream, lim, nullptr);
  fuzz::Splitter splitter(seed);
  if (whole != fuzz::feed(stream, lim, &splitter)) {
    std::fprintf(stderr, "the chunked request's verdict depends on how its bytes are split\n");
    __builtin_trap();
  }
  if (whole.empty() || whole[0].kind != fuzz::Verdict::complete) return 0;
  auto ref = strict_decode(chunked);
  if (!ref) {
    std::fprintf(stderr, "the parser accepted a chunked body strict RFC 9112 refuses\n");
    __builtin_trap();
  }
  if (ref->body != whole[0].body) {
    std::fprintf(stderr, "the parser decoded a different body than strict RFC 9112\n");
    __builtin_trap();
  }
  // Where the body ends decides where the next pipelined request starts (smuggling): the rest
  // must be parsed as the same next request whatever the decoder.
  auto rest = fuzz::feed(chunked.substr(ref->used), lim, nullptr);
  if (!std::equal(rest.begin(), rest.end(), whole.begin() + 1, whole.end()) ||
      rest.size() + 1 != whole.size()) {
    std::fprintf(stderr, "the chunked body ends elsewhere than strict RFC 9112 says\n");
    __builtin_trap();
  }
  return 0;
}
