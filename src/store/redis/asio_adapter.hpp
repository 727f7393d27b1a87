#pragma once
// Drives one hiredis (0.14) async context from a Boost.Asio executor. hiredis says when it wants
// to read or write through its ev hooks (addRead/delRead/addWrite/delWrite/cleanup); each wish
// becomes a posix::stream_descriptor::async_wait, and readiness calls redisAsyncHandleRead/Write.
//
// Lifetime: attach right after redisAsyncConnect. hiredis calls cleanup when it frees the context;
// the adapter then cancels its waits and release()s the fd, because the fd belongs to hiredis
// (which closes it) and must not be closed a second time by Asio. Pending wait handlers keep the
// adapter alive until they have run, so freeing the context at any time is safe.
// Threading: the context, the executor and every hiredis call must stay on one thread.
#include <hiredis/async.h>

#include <boost/asio/any_io_executor.hpp>

namespace anteroom::redis {

// Installs the hooks on `ac`. Returns false if the context already has an event library.
bool attach_asio(redisAsyncContext* ac, const boost::asio::any_io_executor& ex);

}  // namespace anteroom::redis
