#include "store/redis/redis_client.hpp"

#include <hiredis/async.h>
#include <spdlog/spdlog.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <deque>
#include <functional>
#include <random>
#include <stdexcept>

#include "store/redis/asio_adapter.hpp"
#include "store/redis/pending.hpp"

namespace anteroom::redis {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    if (auto existing = spdlog::get("redis")) return existing;
    auto l = spdlog::default_logger()->clone("redis");
    try {
      spdlog::register_logger(l);  // so spdlog::set_level reaches it
    } catch (const spdlog::spdlog_ex&) {
      if (auto existing = spdlog::get("redis")) return existing;
    }
    return l;
  }();
  return *instance;
}

Error unavailable(std::string why) { return err(Errc::unavailable, "redis: " + std::move(why)); }

}  // namespace

class RedisClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, RedisOptions o)
      : io_(io),
        opt_(std::move(o)),
        reconnect_timer_(io),
        watchdog_(io),
        backoff_(opt_.backoff_min),
        rng_(std::random_device{}()) {}

  asio::io_context::executor_type executor() { return io_.get_executor(); }

  // Runs on the io thread.
  void submit(std::vector<std::string> argv, std::unique_ptr<Pending> p) {
    if (argv.empty()) {
      p->complete(err(Errc::internal, "redis: empty command"));
      return;
    }
    switch (state_) {
      case State::ready:
        send(argv, std::move(p));
        break;
      case State::connecting:
        if (held_.size() >= opt_.max_held) {
          p->complete(unavailable("too many commands waiting for the connection"));
        } else {
          held_.emplace_back(std::move(argv), std::move(p));
        }
        break;
      case State::backoff:
        p->complete(unavailable("not connected to " + endpoint()));
        break;
      case State::stopped:
        p->complete(unavailable("client is shut down"));
        break;
    }
  }

  void connect() {
    if (state_ == State::stopped) return;
    redisAsyncContext* ac = redisAsyncConnect(opt_.host.c_str(), opt_.port);
    if (ac == nullptr || ac->err != 0) {
      std::string why = ac != nullptr ? ac->errstr : "out of memory";
      if (ac != nullptr) redisAsyncFree(ac);
      failed_attempt(why);
      return;
    }
    ac->data = this;
    attach_asio(ac, io_.get_executor());
    redisAsyncSetConnectCallback(ac, &Impl::on_connect_cb);
    redisAsyncSetDisconnectCallback(ac, &Impl::on_disconnect_cb);
    ac_ = ac;
    ++generation_;
    state_ = State::connecting;
    connect_started_ = Clock::now();
    arm_watchdog();
  }

  void stop() {
    state_ = State::stopped;
    on_message_ = nullptr;
    on_subscribed_ = nullptr;
    reconnect_timer_.cancel();
    watchdog_.cancel();
    if (ac_ != nullptr) {
      redisAsyncContext* ac = std::exchange(ac_, nullptr);
      redisAsyncFree(ac);  // in-flight commands complete with unavailable
    }
    fail_held("client is shut down");
  }

  // Runs on the io thread.
  void subscribe(std::string channel, std::function<void(std::string_view)> on_message,
                 std::function<void()> on_subscribed) {
    channel_ = std::move(channel);
    on_message_ = std::move(on_message);
    on_subscribed_ = std::move(on_subscribed);
    if (state_ == State::ready) send_subscribe();
  }

  Stats stats_;
  bool connected() const { return state_ == State::ready; }
  const RedisOptions& options() const { return opt_; }

 private:
  enum class State { backoff, connecting, ready, stopped };

  std::string endpoint() const { return opt_.host + ":" + std::to_string(opt_.port); }

  void send(const std::vector<std::string>& argv, std::unique_ptr<Pending> p) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAsyncCommandArgv(ac_, &Impl::on_reply, p.get(), static_cast<int>(argv.size()),
                              ptrs.data(), lens.data()) != REDIS_OK) {
      p->complete(unavailable("connection is closing"));
      return;
    }
    p.release();  // owned by hiredis' callback list until on_reply
    if (in_flight_++ == 0) last_progress_ = Clock::now();
    arm_watchdog();
  }

  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
    auto* self = static_cast<Impl*>(ac->data);
    --self->in_flight_;
    self->last_progress_ = Clock::now();
    if (reply == nullptr) {
      p->complete(unavailable("connection to " + self->endpoint() + " lost"));
    } else {
      p->complete(convert(*static_cast<redisReply*>(reply)));
    }
  }

  // SUBSCRIBE on the current connection. hiredis keeps the callback for the channel and calls
  // it with the confirmation, then once per message, and with a null reply when the context
  // goes away. The confirmation counts as the command's reply for the watchdog, so a server
  // that never confirms is dropped after command_timeout like any silent one.
  void send_subscribe() {
    const char* argv[] = {"SUBSCRIBE", channel_.data()};
    size_t lens[] = {9, channel_.size()};
    if (redisAsyncCommandArgv(ac_, &Impl::on_sub_reply, nullptr, 2, argv, lens) != REDIS_OK) {
      drop("SUBSCRIBE refused by hiredis", true);
      return;
    }
    sub_waiting_ = true;
    if (in_flight_++ == 0) last_progress_ = Clock::now();
    arm_watchdog();
  }

  static void on_sub_reply(redisAsyncContext* ac, void* r, void*) {
    auto* self = static_cast<Impl*>(ac->data);
    auto* reply = static_cast<redisReply*>(r);
    if (self == nullptr) return;
    // hiredis calls this once with a null reply when the context goes away (on a lost
    // connection, or one we dropped: then ac_ is already another), before any reconnect.
    bool confirmed = reply != nullptr && ac == self->ac_ && reply->type == REDIS_REPLY_ARRAY &&
                     reply->elements >= 3 &&
                     std::string_view(reply->element[0]->str, reply->element[0]->len) == "subscribe";
    if ((reply == nullptr || confirmed) && self->sub_waiting_) {
      self->sub_waiting_ = false;
      --self->in_flight_;
      self->last_progress_ = Clock::now();
    }
    if (reply == nullptr || ac != self->ac_) return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    std::string_view kind(reply->element[0]->str, reply->element[0]->len);
    if (kind == "subscribe") {
      ++self->stats_.subscribes;
      // Posted, not run here: the owner resyncs, which may issue commands and await. Checked
      // again when it runs: the client may have been stopped (callbacks cleared) meanwhile.
      asio::post(self->io_, [w = self->weak_from_this()] {
        auto me = w.lock();
        if (me && me->on_subscribed_) me->on_subscribed_();
      });
    } else if (kind == "message" && reply->element[2]->type == REDIS_REPLY_STRING) {
      if (self->on_message_)
        self->on_message_(std::string_view(reply->element[2]->str, reply->element[2]->len));
    }
  }

  static void on_connect_cb(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<Impl*>(ac->data);
    if (ac != self->ac_) return;  // a context we already gave up on
    if (status != REDIS_OK) {
      self->ac_ = nullptr;  // hiredis frees it when this callback returns
      self->failed_attempt(ac->c.errstr);
      return;
    }
    self->handshake();
  }

  static void on_disconnect_cb(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<Impl*>(ac->data);
    if (ac != self->ac_) return;  // we dropped it ourselves; already handled
    self->ac_ = nullptr;
    std::string why = ac->c.errstr[0] != '\0' ? ac->c.errstr : "closed by the server";
    if (self->state_ == State::ready) {
      self->lost(why);
    } else {
      self->failed_attempt(why);
    }
  }

  // AUTH and SELECT go first on every new connection. User commands are held back until they
  // succeed: pipelined behind a failed SELECT they would run against the wrong database.
  void handshake() {
    std::vector<std::vector<std::string>> steps;
    if (!opt_.password.empty()) {
      if (opt_.user.empty())
        steps.push_back({"AUTH", opt_.password});
      else
        steps.push_back({"AUTH", opt_.user, opt_.password});
    }
    if (opt_.db != 0) steps.push_back({"SELECT", std::to_string(opt_.db)});
    if (steps.empty()) {
      become_ready();
      return;
    }
    handshake_left_ = steps.size();
    for (auto& argv : steps) {
      auto gen = generation_;
      send(argv, std::make_unique<InternalOp>([this, gen](Result<RedisReply> r) {
             if (gen != generation_ || state_ != State::connecting) return;
             if (!r.ok() || r->is_error()) {
               drop(r.ok() ? "handshake refused: " + r->str : r.error().message, false);
             } else if (--handshake_left_ == 0) {
               become_ready();
             }
           }));
    }
  }

  void become_ready() {
    state_ = State::ready;
    backoff_ = opt_.backoff_min;
    ++stats_.connects;
    if (failing_) logger().info("connected to {} again", endpoint());
    failing_ = false;
    if (on_message_) send_subscribe();
    auto held = std::move(held_);
    held_.clear();
    for (auto& [argv, p] : held) {
      if (state_ == State::ready)
        send(argv, std::move(p));
      else
        p->complete(unavailable("connection to " + endpoint() + " lost"));
    }
  }

  // An established connection went away (hiredis already freed the context).
  void lost(const std::string& why) {
    ++stats_.disconnects;
    state_ = State::backoff;
    logger().warn("connection to {} lost: {}; reconnecting", endpoint(), why);
    failing_ = true;
    fail_held("connection to " + endpoint() + " lost");
    schedule_reconnect();
  }

  // A connect attempt failed (hiredis freed or will free the context).
  void failed_attempt(const std::string& why) {
    state_ = State::backoff;
    if (!failing_) logger().warn("cannot connect to {}: {}; retrying", endpoint(), why);
    logger().debug("connect to {} failed: {}", endpoint(), why);
    failing_ = true;
    fail_held("cannot connect to " + endpoint() + ": " + why);
    schedule_reconnect();
  }

  // We give up on the current context ourselves (timeout, failed handshake).
  void drop(const std::string& why, bool was_ready) {
    redisAsyncContext* ac = std::exchange(ac_, nullptr);
    // Inside a hiredis callback the free is deferred until the callback returns; either way
    // in-flight commands complete with unavailable and on_disconnect_cb ignores the context.
    redisAsyncFree(ac);
    if (was_ready)
      lost(why);
    else
      failed_attempt(why);
  }

  void fail_held(const std::string& why) {
    auto held = std::move(held_);
    held_.clear();
    for (auto& [argv, p] : held) p->complete(unavailable(why));
  }

  void schedule_reconnect() {
    if (state_ == State::stopped) return;
    // Full jitter in [backoff/2, backoff]: many processes must not hammer a restarted Redis
    // in lockstep.
    auto ms = backoff_.count();
    std::uniform_int_distribution<int64_t> pick(ms / 2, ms);
    backoff_ = std::min(backoff_ * 2, opt_.backoff_max);
    reconnect_timer_.expires_after(std::chrono::milliseconds(pick(rng_)));
    reconnect_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (!ec && self) self->connect();
    });
  }

  std::optional<Clock::time_point> next_deadline() const {
    if (state_ == State::connecting) return connect_started_ + opt_.connect_timeout;
    if (state_ == State::ready && in_flight_ > 0) return last_progress_ + opt_.command_timeout;
    return std::nullopt;
  }

  // One timer watches both the connect attempt and the oldest unanswered command. It fires at
  // most once per timeout period instead of being reset on every reply.
  void arm_watchdog() {
    if (watchdog_armed_) return;
    auto deadline = next_deadline();
    if (!deadline) return;
    watchdog_armed_ = true;
    watchdog_.expires_at(*deadline);
    watchdog_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (!self) return;
      self->watchdog_armed_ = false;
      if (!ec) self->on_watchdog();
    });
  }

  void on_watchdog() {
    auto now = Clock::now();
    if (state_ == State::connecting && now >= connect_started_ + opt_.connect_timeout) {
      drop("connect timed out", false);
    } else if (state_ == State::ready && in_flight_ > 0 &&
               now >= last_progress_ + opt_.command_timeout) {
      ++stats_.timeouts;
      drop("no reply for " + std::to_string(opt_.command_timeout.count()) + " ms", true);
    }
    arm_watchdog();
  }

  asio::io_context& io_;
  RedisOptions opt_;
  State state_ = State::backoff;
  redisAsyncContext* ac_ = nullptr;
  uint64_t generation_ = 0;  // bumped per context, so stale handshake replies are ignored
  size_t handshake_left_ = 0;
  std::deque<std::pair<std::vector<std::string>, std::unique_ptr<Pending>>> held_;
  size_t in_flight_ = 0;
  Clock::time_point last_progress_{};
  Clock::time_point connect_started_{};
  asio::steady_timer reconnect_timer_;
  asio::steady_timer watchdog_;
  bool watchdog_armed_ = false;
  bool failing_ = false;  // log the first failure and the recovery, not every retry
  std::chrono::milliseconds backoff_;
  std::minstd_rand rng_;
  // Subscribe mode (empty callbacks: a command client).
  std::string channel_;
  std::function<void(std::string_view)> on_message_;
  std::function<void()> on_subscribed_;
  bool sub_waiting_ = false;  // SUBSCRIBE sent on this connection, not yet confirmed
};

RedisClient::RedisClient(asio::io_context& io, RedisOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  impl_->connect();
}

RedisClient::~RedisClient() { impl_->stop(); }

asio::awaitable<Result<RedisReply>> RedisClient::command(std::vector<std::string> argv) {
  auto initiate = [impl = impl_](auto handler, std::vector<std::string> argv) {
    using Handler = std::decay_t<decltype(handler)>;
    std::unique_ptr<Pending> p = std::make_unique<PendingOp<Handler>>(std::move(handler));
    // Hop to the client's thread (inline when already there); hiredis is single-threaded.
    asio::dispatch(impl->executor(), [impl, argv = std::move(argv), p = std::move(p)]() mutable {
      impl->submit(std::move(argv), std::move(p));
    });
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<RedisReply>)>(
      std::move(initiate), asio::use_awaitable, std::move(argv));
}

asio::awaitable<Result<RedisReply>> RedisClient::eval(const RedisScript& script,
                                                      std::vector<std::string> keys,
                                                      std::vector<std::string> args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha());
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  auto r = co_await command(argv);
  if (!r.ok() || !r->is_error() || !r->str.starts_with("NOSCRIPT")) co_return r;
  // The server lost its script cache (restart, failover, SCRIPT FLUSH): load and retry once.
  std::vector<std::string> load{"SCRIPT", "LOAD", script.source()};
  auto loaded = co_await command(std::move(load));
  if (!loaded.ok() || loaded->is_error()) co_return loaded;
  co_return co_await command(std::move(argv));
}

void RedisClient::subscribe(std::string channel, std::function<void(std::string_view)> on_message,
                            std::function<void()> on_subscribed) {
  impl_->subscribe(std::move(channel), std::move(on_message), std::move(on_subscribed));
}

RedisClient::Stats RedisClient::stats() const { return impl_->stats_; }
bool RedisClient::connected() const { return impl_->connected(); }
const RedisOptions& RedisClient::options() const { return impl_->options(); }

}  // namespace anteroom::redis
