#include "store/redis/asio_adapter.hpp"

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>
#include <optional>

namespace anteroom::redis {
namespace {

using boost::asio::posix::stream_descriptor;

class AsioAdapter : public std::enable_shared_from_this<AsioAdapter> {
 public:
  AsioAdapter(redisAsyncContext* ac, const boost::asio::any_io_executor& ex)
      : ac_(ac), fd_(std::in_place, ex, ac->c.fd) {}

  static void add_read(void* p) { static_cast<AsioAdapter*>(p)->want(kRead, true); }
  static void del_read(void* p) { static_cast<AsioAdapter*>(p)->want(kRead, false); }
  static void add_write(void* p) { static_cast<AsioAdapter*>(p)->want(kWrite, true); }
  static void del_write(void* p) { static_cast<AsioAdapter*>(p)->want(kWrite, false); }
  static void cleanup(void* p) {
    auto* a = static_cast<AsioAdapter*>(p);
    // Keep ourselves alive until the end of this call even if no wait handler holds us.
    std::shared_ptr<AsioAdapter> keep = std::move(a->self_);
    a->shutdown();
  }

  // hiredis holds a plain pointer (ev.data); this reference stands for it until cleanup.
  std::shared_ptr<AsioAdapter> self_;

 private:
  enum Dir { kRead = 0, kWrite = 1 };

  void want(Dir d, bool on) {
    wanted_[d] = on;
    if (on && !waiting_[d] && ac_ != nullptr) arm(d);
  }

  void arm(Dir d) {
    waiting_[d] = true;
    fd_->async_wait(d == kRead ? stream_descriptor::wait_read : stream_descriptor::wait_write,
                    [self = shared_from_this(), d](const boost::system::error_code& ec) {
                      self->on_ready(d, ec);
                    });
  }

  void on_ready(Dir d, const boost::system::error_code& ec) {
    waiting_[d] = false;
    if (ec || ac_ == nullptr || !wanted_[d]) return;
    if (d == kRead)
      redisAsyncHandleRead(ac_);
    else
      redisAsyncHandleWrite(ac_);
    // hiredis may have freed the context meanwhile (cleanup cleared ac_), or asked again.
    if (ac_ != nullptr && wanted_[d] && !waiting_[d]) arm(d);
  }

  void shutdown() {
    // Later hook calls (newer hiredis calls cleanup twice) must not reach a dead adapter.
    ac_->ev = {};
    ac_ = nullptr;
    wanted_ = {false, false};
    // release() cancels the pending waits and gives the fd back without closing it.
    fd_->release();
    fd_.reset();
  }

  redisAsyncContext* ac_;
  std::optional<stream_descriptor> fd_;
  std::array<bool, 2> wanted_{};
  std::array<bool, 2> waiting_{};
};

}  // namespace

bool attach_asio(redisAsyncContext* ac, const boost::asio::any_io_executor& ex) {
  if (ac->ev.data != nullptr) return false;
  auto a = std::make_shared<AsioAdapter>(ac, ex);
  a->self_ = a;
  ac->ev.data = a.get();
  ac->ev.addRead = &AsioAdapter::add_read;
  ac->ev.delRead = &AsioAdapter::del_read;
  ac->ev.addWrite = &AsioAdapter::add_write;
  ac->ev.delWrite = &AsioAdapter::del_write;
  ac->ev.cleanup = &AsioAdapter::cleanup;
  return true;
}

}  // namespace anteroom::redis
