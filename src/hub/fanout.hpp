#pragma once
// The sends of one flush. Small: each stream is pumped as it is added. Large (parallel_min
// streams or more): the sends are the cost (each a TCP transmit in the kernel), so they are
// shared with the SendWorker's helper thread, pipelined with the io thread's own work: the io
// thread prepares streams (their frames are made as the flush goes) and publishes them in
// chunks of 256; the helper sends each chunk as soon as it is published; once everything is
// added, the io thread sends too (finish()).
//
// What the helper may touch is all it gets: a {fd, bytes} per stream, the bytes a view of the
// stream's output that the io thread does not change until finish() has joined the helper.
// What a send left over (a full socket buffer) or broke is applied to the stream on the io
// thread, in finish(). Threading: construct, add and finish on the io thread.
#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "hub/send_worker.hpp"

namespace anteroom {

class Stream;

class Fanout {
 public:
  // `worker` may be null (one thread); `capacity`: the most streams that will be added.
  Fanout(SendWorker* worker, size_t capacity, size_t parallel_min);
  ~Fanout();
  Fanout(const Fanout&) = delete;
  Fanout& operator=(const Fanout&) = delete;

  void add(Stream& s);
  void finish();

 private:
  static constexpr size_t kChunk = 256;
  static constexpr uint64_t kDone = uint64_t{1} << 63;
  struct Send {  // the helper reads fd and bytes, writes n and err
    int fd = -1;
    std::string_view bytes;
    size_t n = 0;
    int err = 0;
  };

  void publish(uint64_t v);
  void send_chunks();  // (both threads)

  SendWorker* worker_;
  bool parallel_;
  bool finished_ = false;
  std::vector<Stream*> streams_;    // io thread only
  std::vector<Send> sends_;         // fixed size: the helper reads it while the io thread fills it
  size_t n_ = 0;                    // prepared (io thread only)
  std::atomic<uint64_t> ready_{0};  // published count, | kDone when the flush has ended
  std::atomic<size_t> next_{0};     // the next chunk to claim
};

}  // namespace anteroom
