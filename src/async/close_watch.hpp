#pragma once
// The close watch of a one-way stream (the server only writes: SSE to a visitor, the admin
// event stream): a client that goes away is noticed at once, as its socket becomes readable
// (EOF); anything it does send is read and dropped. Used by hub::Stream and the dashboard's
// watchers.
#include <boost/asio/ip/tcp.hpp>
#include <memory>

namespace anteroom::async {

// `sock` must be non-blocking. `keep` holds its owner alive while a wait is pending. When the
// wait completes: `ended()` true → the owner is closed, stop silently; the peer gone or the
// socket failed → `end()`; else (bytes read and dropped, or nothing to read yet) wait again.
template <class Ended, class End>
void watch_close(boost::asio::ip::tcp::socket& sock, std::shared_ptr<void> keep, Ended ended,
                 End end) {
  namespace asio = boost::asio;
  sock.async_wait(asio::socket_base::wait_read, [&sock, keep = std::move(keep), ended,
                                                 end](boost::system::error_code ec) mutable {
    if (ended()) return;
    if (ec) {
      end();
      return;
    }
    char buf[256];
    boost::system::error_code rec;
    size_t n = sock.read_some(asio::buffer(buf), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again || (!rec && n > 0))
      watch_close(sock, std::move(keep), ended, end);
    else
      end();
  });
}

}  // namespace anteroom::async
