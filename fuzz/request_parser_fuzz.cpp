// The request parser (src/http/wire.cpp) on arbitrary bytes, fed whole and split where the
// fuzzer chooses. Input: 4 bytes of split seed (little-endian), 1 byte choosing the limits, then
// the bytes a client sends (any number of pipelined requests).
// Checks: no crash or sanitizer report; consumed stays within the buffer; and the verdicts for
// every request are the same however the bytes are split (RFC 9112 framing does not depend on
// TCP segmentation, and a front proxy sees the same bytes in other pieces).
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "feed.hpp"

using namespace anteroom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  uint32_t seed = data[0] | data[1] << 8 | data[2] << 16 | static_cast<uint32_t>(data[3]) << 24;
  // Small limits too, so the fuzzer reaches the too-large paths with short inputs.
  http::WireLimits lim;
  if (data[4] & 1) lim = http::WireLimits{64, 32};
  std::string_view stream(reinterpret_cast<const char*>(data) + 5, size - 5);

  auto whole = fuzz::feed(stream, lim, nullptr);
  fuzz::Splitter splitter(seed);
  auto split = fuzz::feed(stream, lim, &splitter);
  if (whole != split) {
    std::fprintf(stderr, "verdicts differ: %zu requests whole, %zu split\n", whole.size(),
                 split.size());
    for (size_t i = 0; i < std::min(whole.size(), split.size()); ++i)
      if (!(whole[i] == split[i]))
        std::fprintf(stderr, "request %zu: whole kind %d error %d, split kind %d error %d\n", i,
                     whole[i].kind, static_cast<int>(whole[i].error), split[i].kind,
                     static_cast<int>(split[i].error));
    __builtin_trap();
  }
  return 0;
}
