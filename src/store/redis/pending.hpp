#pragma once
// Internals of RedisClient: a command's completion as hiredis carries it (privdata), and the
// conversion of hiredis replies. Not for use outside src/store/redis/.
#include <hiredis/hiredis.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <functional>

#include "store/redis/redis_client.hpp"

namespace anteroom::redis {

RedisReply convert(const redisReply& r);

// One command's completion, type-erased so hiredis can carry it as privdata.
class Pending {
 public:
  virtual ~Pending() = default;
  virtual void complete(Result<RedisReply> r) = 0;
};

// Completes an asio handler on its own executor, never inline: completions happen inside
// hiredis callbacks, where resuming a coroutine that might destroy the client is not safe.
template <class Handler>
class PendingOp final : public Pending {
 public:
  explicit PendingOp(Handler h)
      : handler_(std::move(h)),
        work_(boost::asio::make_work_guard(boost::asio::get_associated_executor(handler_))) {}

  void complete(Result<RedisReply> r) override {
    auto ex = work_.get_executor();
    boost::asio::post(
        ex, [h = std::move(handler_), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
    work_.reset();
  }

 private:
  Handler handler_;
  boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work_;
};

// The client's own commands (handshake): run synchronously inside the hiredis callback.
class InternalOp final : public Pending {
 public:
  explicit InternalOp(std::function<void(Result<RedisReply>)> f) : f_(std::move(f)) {}
  void complete(Result<RedisReply> r) override { f_(std::move(r)); }

 private:
  std::function<void(Result<RedisReply>)> f_;
};

}  // namespace anteroom::redis
