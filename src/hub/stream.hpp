#pragma once
// One visitor's open event stream and its transport. After attach() it owns the connection's
// socket: each frame is written with a non-blocking send as soon as it is due, with an async
// write only when the socket's buffer is full (later frames wait meanwhile); a client that goes
// away is noticed at once (close watch); one that stops reading is dropped after write_timeout
// (the hub's heartbeat loop checks). No coroutine, timer or thread per stream: under 2 KiB
// of process memory each, socket included (bench: mem_per_stream_bytes).
//
// Threading: the io thread only. The fan-out's helper thread sees no Stream, only {fd, bytes}
// (fanout.hpp). Lifetime: shared by the hub (until it forgets the stream) and the pending
// socket operations; once closed_, a completion touches nothing but the stream itself, so a
// stream may outlive its hub.
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/types.hpp"
#include "hub/coalescer.hpp"
#include "hub/hub_config.hpp"

namespace anteroom {

class Hub;
class Fanout;

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  const std::string& queue() const { return queue_; }
  const std::string& ticket() const { return ticket_; }

 private:
  friend class Hub;
  friend class Fanout;
  using Clock = std::chrono::steady_clock;
  Stream(Hub& hub, std::string q, std::string t, const HubConfig& cfg)
      : hub_(hub), queue_(std::move(q)), ticket_(std::move(t)), cfg_(cfg) {}

  // ---- what to send (the hub fills it) ----
  void queue_frame(std::string_view frame) { frames_ += frame; }
  bool finished() const { return finished_ && frames_.empty(); }

  // ---- transport (stream.cpp) ----
  void attach(boost::asio::ip::tcp::socket sock, std::string head, std::function<void()> on_detach);
  // Writes what is due now.
  void pump();
  // Moves what is due (queued frames, then the position if the coalescing allows) into out_;
  // true if there is something to send now.
  bool prepare();
  // After a non-blocking send of n bytes of out_: the rest goes out with one async write.
  void written(size_t n, boost::system::error_code ec);
  int fd() { return sock_->native_handle(); }
  void watch_close();
  // Closes the connection, runs on_detach and asks the hub to forget the stream.
  void end();
  // The hub is going away: close the socket, run nothing.
  void abandon();

  Hub& hub_;
  std::string queue_, ticket_;
  const HubConfig& cfg_;
  bool started_ = false;  // initial state sent
  TicketState state_ = TicketState::waiting;
  uint64_t order_ = 0;
  uint64_t seq_ = 0;    // the seq of the last state this stream was told
  uint64_t attached_no_ = 0;  // its place in the order of attach (the hub's count); 0 before
  // The on-sale: a pre-queue entrant (its ticket says so); place 0 until the hub has learnt its
  // place in the draw (then order_ = base + place). place_asked_: looked up once already.
  bool entrant_ = false;
  int64_t place_ = 0;
  bool place_asked_ = false;
  std::string frames_;  // encoded frames not yet handed to the socket
  bool finished_ = false;
  CoalescedPosition position_;
  // Transport (after attach).
  std::unique_ptr<boost::asio::ip::tcp::socket> sock_;
  std::string out_;       // bytes being written
  bool writing_ = false;  // an async write of out_ is in flight
  bool closed_ = false;
  Clock::time_point blocked_since_{};
  std::function<void()> on_detach_;
};

}  // namespace anteroom
