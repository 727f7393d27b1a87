// The queue-config JSON (the body of PUT /v1/queues/{q}, src/http/queue_config.cpp parse_patch)
// on arbitrary bytes. Input: the body. Checks: no crash, exception or sanitizer report, and a
// refusal is invalid_json or bad_request (what the edge answers with a 400), never anything else.
#include <cstdint>
#include <string>

#include "http/queue_config.hpp"

using namespace anteroom;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  auto patch = http::parse_patch(body);
  if (!patch) {
    Errc c = patch.error().code;
    if (c != Errc::invalid_json && c != Errc::bad_request) __builtin_trap();
    return 0;
  }
  // An accepted patch applies to a default config without surprises.
  QueueConfig cfg;
  patch->apply_to(cfg);
  return 0;
}
