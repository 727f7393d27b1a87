#include "hub/stream.hpp"

#include <boost/asio/write.hpp>

#include "async/close_watch.hpp"
#include "hub/hub.hpp"

namespace anteroom {

namespace asio = boost::asio;

void Stream::attach(asio::ip::tcp::socket sock, std::string head, std::function<void()> on_detach) {
  boost::system::error_code ec;
  sock.non_blocking(true, ec);
  sock_ = std::make_unique<asio::ip::tcp::socket>(std::move(sock));
  out_ = std::move(head);
  on_detach_ = std::move(on_detach);
  watch_close();
  pump();
}

// A non-blocking send of everything due at once; what the socket does not take goes out with
// one async write, and later frames wait in frames_ meanwhile.
void Stream::pump() {
  if (!prepare()) return;
  boost::system::error_code ec;
  size_t n = sock_->write_some(asio::buffer(out_), ec);
  written(n, ec);
}

bool Stream::prepare() {
  if (!sock_ || closed_ || writing_) return false;
  out_ += frames_;
  frames_.clear();
  if (position_.drain(out_, cfg_.coalescing(), Clock::now())) hub_.hold(*this);
  if (out_.empty()) {
    if (finished()) end();
    return false;
  }
  return true;
}

void Stream::written(size_t n, boost::system::error_code ec) {
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    end();
    return;
  }
  out_.erase(0, n);
  if (out_.empty()) {
    if (finished()) end();
    return;
  }
  writing_ = true;
  blocked_since_ = Clock::now();
  asio::async_write(*sock_, asio::buffer(out_),
                    [self = shared_from_this()](boost::system::error_code ec, size_t) {
                      if (self->closed_) return;  // (maybe the hub is gone: touch nothing)
                      self->writing_ = false;
                      if (ec) {
                        self->end();
                        return;
                      }
                      self->out_.clear();
                      self->pump();
                    });
}

void Stream::watch_close() {
  async::watch_close(*sock_, shared_from_this(), [this] { return closed_; }, [this] { end(); });
}

void Stream::end() {
  if (closed_) return;
  abandon();
  if (auto detach = std::move(on_detach_)) detach();
  hub_.forget_later(*this);
}

void Stream::abandon() {
  closed_ = true;
  if (!sock_) return;
  boost::system::error_code ec;
  sock_->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  sock_->close(ec);
}

}  // namespace anteroom
