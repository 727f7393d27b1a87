#pragma once
// Incremental parser for one Server-Sent-Events response: HTTP status line and headers, an
// optional chunked transfer coding (nginx/nchan uses it, anteroom does not), then SSE lines.
// It keeps no buffer of its own beyond a partial line (rare: only when a read splits a line),
// so one process can hold ~19k streams in a few MiB. Not thread-safe; one per connection.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sseload {

enum class EventType : uint8_t { message, position, admitted, ended, prequeue, drawn };

struct SseEvent {
  EventType type = EventType::message;
  uint64_t id = 0;        // leading digits of the id: line (anteroom: queue seq)
  int64_t position = -1;  // "position" in the data, if present
  int64_t place = -1;     // "place" (a `drawn` frame)
  int64_t entrants = -1;  // "entrants" (`prequeue`, `drawn` frames)
};

// Feed bytes with feed(); the Sink gets on_headers(status) once and on_event(event) per event.
template <class Sink>
class SseParser {
 public:
  // Returns false when the response is unusable (bad headers) or ended (last chunk).
  bool feed(Sink& sink, const char* p, size_t n) {
    if (phase_ == Phase::headers) {
      pending_.append(p, n);
      size_t end = pending_.find("\r\n\r\n");
      if (end == std::string::npos) return pending_.size() < 16384;
      std::string head = pending_.substr(0, end);
      std::string rest = pending_.substr(end + 4);
      pending_.clear();
      pending_.shrink_to_fit();
      int status = 0;
      if (head.size() > 12 && head.compare(0, 5, "HTTP/") == 0)
        status = std::atoi(head.c_str() + head.find(' ') + 1);
      for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      chunked_ = head.find("transfer-encoding: chunked") != std::string::npos;
      phase_ = Phase::body;
      if (!sink.on_headers(status)) return false;
      return rest.empty() || body(sink, rest.data(), rest.size());
    }
    return body(sink, p, n);
  }

 private:
  enum class Phase : uint8_t { headers, body };
  enum class Chunk : uint8_t { size, ext, data, crlf };

  bool body(Sink& sink, const char* p, size_t n) {
    if (!chunked_) {
      lines(sink, p, n);
      return true;
    }
    while (n > 0) {
      switch (chunk_) {
        case Chunk::size:
        case Chunk::ext: {
          char c = *p++;
          --n;
          if (c == '\n') {
            if (chunk_left_ == 0) return false;  // last chunk: the stream ended
            chunk_ = Chunk::data;
          } else if (chunk_ == Chunk::size && std::isxdigit(static_cast<unsigned char>(c))) {
            chunk_left_ = chunk_left_ * 16 + static_cast<uint32_t>(
                                                 c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
          } else {
            chunk_ = Chunk::ext;  // ';' extensions or '\r'
          }
          break;
        }
        case Chunk::data: {
          size_t m = n < chunk_left_ ? n : chunk_left_;
          lines(sink, p, m);
          p += m;
          n -= m;
          chunk_left_ -= static_cast<uint32_t>(m);
          if (chunk_left_ == 0) chunk_ = Chunk::crlf;
          break;
        }
        case Chunk::crlf:
          if (*p == '\n') chunk_ = Chunk::size;
          ++p;
          --n;
          break;
      }
    }
    return true;
  }

  void lines(Sink& sink, const char* p, size_t n) {
    while (n > 0) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
      if (!nl) {
        pending_.append(p, n);
        return;
      }
      std::string_view line(p, static_cast<size_t>(nl - p));
      if (!pending_.empty()) {
        pending_.append(line);
        line = pending_;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      this->line(sink, line);
      pending_.clear();
      n -= static_cast<size_t>(nl - p) + 1;
      p = nl + 1;
    }
  }

  void line(Sink& sink, std::string_view l) {
    if (l.empty()) {
      if (has_data_) sink.on_event(ev_);
      ev_ = SseEvent{};
      has_data_ = false;
      return;
    }
    if (l[0] == ':') return;  // comment (heartbeat)
    size_t colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    if (field == "id") {
      uint64_t v = 0;
      for (char c : value) {
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      ev_.id = v;
    } else if (field == "event") {
      ev_.type = value == "position"   ? EventType::position
                 : value == "admitted" ? EventType::admitted
                 : value == "ended"    ? EventType::ended
                 : value == "prequeue" ? EventType::prequeue
                 : value == "drawn"    ? EventType::drawn
                                       : EventType::message;
    } else if (field == "data") {
      has_data_ = true;
      number(value, "\"position\":", ev_.position);
      number(value, "\"place\":", ev_.place);
      number(value, "\"entrants\":", ev_.entrants);
    }
  }

  // The non-negative integer after `key` in a data line, if the key is there.
  static void number(std::string_view value, std::string_view key, int64_t& out) {
    size_t k = value.find(key);
    if (k == std::string_view::npos) return;
    int64_t v = 0;
    for (size_t i = k + key.size(); i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i)
      v = v * 10 + (value[i] - '0');
    out = v;
  }

  Phase phase_ = Phase::headers;
  bool chunked_ = false;
  bool has_data_ = false;
  Chunk chunk_ = Chunk::size;
  uint32_t chunk_left_ = 0;
  std::string pending_;
  SseEvent ev_;
};

}  // namespace sseload
