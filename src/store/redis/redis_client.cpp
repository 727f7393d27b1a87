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
#include <algorithm>
#include <deque>
#include <unordered_map>
#include <functional>
#include <random>
#include <stdexcept>

#include "store/redis/asio_adapter.hpp"
#include "store/redis/cluster_routing.hpp"
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

  // Runs on the io thread. The commands go out back-to-back on this connection, nothing of
  // another caller between them (ASKING + command, command + WAIT): each is appended to the
  // same output buffer, or held together in order while a connect attempt runs.
  void submit_seq(std::vector<std::vector<std::string>> argvs,
                  std::vector<std::unique_ptr<Pending>> ps) {
    switch (state_) {
      case State::ready:
        for (size_t i = 0; i < argvs.size(); ++i) send(argvs[i], std::move(ps[i]));
        break;
      case State::connecting:
        if (held_.size() + argvs.size() > opt_.max_held) {
          for (auto& p : ps) p->complete(unavailable("too many commands waiting for the connection"));
        } else {
          for (size_t i = 0; i < argvs.size(); ++i)
            held_.emplace_back(std::move(argvs[i]), std::move(ps[i]));
        }
        break;
      case State::backoff:
        for (auto& p : ps) p->complete(unavailable("not connected to " + endpoint()));
        break;
      case State::stopped:
        for (auto& p : ps) p->complete(unavailable("client is shut down"));
        break;
    }
  }

  void submit(std::vector<std::string> argv, std::unique_ptr<Pending> p) {
    std::vector<std::vector<std::string>> argvs;
    argvs.push_back(std::move(argv));
    std::vector<std::unique_ptr<Pending>> ps;
    ps.push_back(std::move(p));
    submit_seq(std::move(argvs), std::move(ps));
  }

  // Cluster: where the next connect attempt goes (the map's connection and the subscriber move
  // between nodes); unset: always host:port of the options. Called before every attempt but the
  // first.
  std::function<std::pair<std::string, int>()> next_endpoint;
  // Cluster: told (posted) when the connection is lost or an attempt fails, so the map is
  // refreshed.
  std::function<void()> on_down;

  void connect() {
    if (state_ == State::stopped) return;
    if (next_endpoint && attempted_) {
      auto [host, port] = next_endpoint();
      opt_.host = std::move(host);
      opt_.port = port;
    }
    attempted_ = true;
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
    on_down = nullptr;
    next_endpoint = nullptr;
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
  std::string endpoint() const { return opt_.host + ":" + std::to_string(opt_.port); }

 private:
  enum class State { backoff, connecting, ready, stopped };

  void notify_down() {
    if (on_down) asio::post(io_, on_down);
  }

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
    notify_down();
    schedule_reconnect();
  }

  // A connect attempt failed (hiredis freed or will free the context).
  void failed_attempt(const std::string& why) {
    state_ = State::backoff;
    if (!failing_) logger().warn("cannot connect to {}: {}; retrying", endpoint(), why);
    logger().debug("connect to {} failed: {}", endpoint(), why);
    failing_ = true;
    fail_held("cannot connect to " + endpoint() + ": " + why);
    notify_down();
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
  bool attempted_ = false;    // a connect was tried (the next one may go elsewhere)
};

namespace {

// Every reply of a sequence sent back-to-back on one connection, and the node it went to.
struct SeqResult {
  std::vector<Result<RedisReply>> replies;
  std::string node;  // "host:port"
};

// The sequence's shared completion: each command's Pending fills its reply; the last one to
// arrive completes the caller's handler (posted to its executor, never inline).
class SeqState {
 public:
  explicit SeqState(size_t n) : left_(n) { result.replies.resize(n); }
  virtual ~SeqState() = default;
  void put(size_t i, Result<RedisReply> r) {
    result.replies[i] = std::move(r);
    if (--left_ == 0) done();
  }
  SeqResult result;

 protected:
  virtual void done() = 0;

 private:
  size_t left_;
};

template <class Handler>
class SeqOp final : public SeqState {
 public:
  SeqOp(size_t n, Handler h)
      : SeqState(n),
        handler_(std::move(h)),
        work_(asio::make_work_guard(asio::get_associated_executor(handler_))) {}

 private:
  void done() override {
    auto ex = work_.get_executor();
    asio::post(ex, [h = std::move(handler_), r = std::move(result)]() mutable {
      std::move(h)(std::move(r));
    });
    work_.reset();
  }
  Handler handler_;
  asio::executor_work_guard<asio::associated_executor_t<Handler>> work_;
};

class SeqPart final : public Pending {
 public:
  SeqPart(std::shared_ptr<SeqState> s, size_t i) : s_(std::move(s)), i_(i) {}
  void complete(Result<RedisReply> r) override { s_->put(i_, std::move(r)); }

 private:
  std::shared_ptr<SeqState> s_;
  size_t i_;
};

// Where a sequence goes: the master of `slot` (none: any master), or the node `address`.
struct Target {
  std::optional<int> slot;
  std::string address;
};

using Clock2 = std::chrono::steady_clock;
constexpr int kMaxRedirects = 5;
constexpr int kMaxLoads = 3;  // SCRIPT LOADs per call (NOSCRIPT from the source, the target, ...)
constexpr auto kBusyRetry = std::chrono::milliseconds(25);      // TRYAGAIN, CLUSTERDOWN
constexpr auto kBusyPatience = std::chrono::milliseconds(2000);
constexpr auto kRefreshWhileDown = std::chrono::milliseconds(200);
constexpr auto kRefreshQuiet = std::chrono::milliseconds(10'000);
constexpr auto kRefreshGap = std::chrono::milliseconds(50);  // between two refreshes, at least

RedisClient::Stats& operator+=(RedisClient::Stats& a, const RedisClient::Stats& b) {
  a.connects += b.connects;
  a.disconnects += b.disconnects;
  a.timeouts += b.timeouts;
  a.subscribes += b.subscribes;
  a.redirects += b.redirects;
  a.map_refreshes += b.map_refreshes;
  return a;
}

}  // namespace

// The connections of a client and the choice among them. Standalone: one Impl. Cluster: one
// Impl per master of the slot map, one that asks for the map (moving between nodes), and in
// subscribe mode one subscriber (moving between nodes). Everything but options() on the io
// thread.
class RedisClient::Router : public std::enable_shared_from_this<Router> {
 public:
  Router(asio::io_context& io, RedisOptions o)
      : io_(io), opt_(with_wait_patience(std::move(o))), refresh_timer_(io) {}

  void start() {
    if (!opt_.cluster) {
      single_ = std::make_shared<Impl>(io_, opt_);
      single_->connect();
      return;
    }
    seeds_.emplace_back(opt_.host, opt_.port);
    for (auto& s : opt_.seeds) seeds_.push_back(s);
    refresh();
  }

  void stop() {
    stopped_ = true;
    refresh_timer_.cancel();
    for (auto* c : {&single_, &probe_, &sub_})
      if (*c) (*c)->stop();
    for (auto& [addr, node] : nodes_) node->stop();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) fail(w.parts, "client is shut down");
  }

  const RedisOptions& options() const { return opt_; }
  asio::io_context::executor_type executor() { return io_.get_executor(); }

  void dispatch(Target t, std::vector<std::vector<std::string>> argvs,
                std::shared_ptr<SeqState> state) {
    std::vector<std::unique_ptr<Pending>> parts;
    for (size_t i = 0; i < argvs.size(); ++i) parts.push_back(std::make_unique<SeqPart>(state, i));
    if (stopped_) return fail(parts, "client is shut down");
    if (single_) {
      state->result.node = single_->endpoint();
      return single_->submit_seq(std::move(argvs), std::move(parts));
    }
    if (subscribing_) return fail(parts, "a subscriber client takes no commands");
    std::shared_ptr<Impl> node;
    if (!t.address.empty()) {
      node = node_at(t.address);
    } else if (!have_map_) {
      // Before the first map: wait for it (refresh() answers or fails these).
      waiting_.push_back({std::move(t), std::move(argvs), std::move(parts), std::move(state)});
      return;
    } else if (t.slot) {
      int m = slot_master_[static_cast<size_t>(*t.slot)];
      if (m < 0) {
        request_refresh();
        return fail(parts, "no master serves slot " + std::to_string(*t.slot));
      }
      node = node_at(masters_[static_cast<size_t>(m)]);
    } else {
      node = any_master();
    }
    if (!node) return fail(parts, "no master known");
    state->result.node = node->endpoint();
    node->submit_seq(std::move(argvs), std::move(parts));
  }

  // A MOVED reply: the slot is served by `address` now (followed at once, before the refresh).
  void moved(int slot, const std::string& address) {
    ++redirects_;
    if (!have_map_ || stopped_) return;
    auto it = std::find(masters_.begin(), masters_.end(), address);
    if (it == masters_.end()) it = masters_.insert(masters_.end(), address);
    slot_master_[static_cast<size_t>(slot)] = static_cast<int>(it - masters_.begin());
    request_refresh();
  }
  void asked() { ++redirects_; }

  void request_refresh() {
    if (!opt_.cluster || stopped_) return;
    if (refreshing_) {
      refresh_again_ = true;
      return;
    }
    auto earliest = last_refresh_ + kRefreshGap;
    if (Clock2::now() >= earliest)
      refresh();
    else
      refresh_at(earliest);
  }

  void subscribe(std::string channel, std::function<void(std::string_view)> on_message,
                 std::function<void()> on_subscribed) {
    if (single_) return single_->subscribe(std::move(channel), std::move(on_message),
                                           std::move(on_subscribed));
    subscribing_ = true;
    for (auto& [addr, node] : nodes_) retire(node);
    nodes_.clear();
    auto first = have_map_ && !masters_.empty() ? split(masters_.front()) : seeds_.front();
    sub_ = make_node(first.first, first.second);
    sub_->next_endpoint = rotation();
    sub_->on_down = nullptr;
    sub_->subscribe(std::move(channel), std::move(on_message), std::move(on_subscribed));
    sub_->connect();
  }

  Stats stats() const {
    if (single_) return single_->stats_;
    Stats s = retired_;
    for (auto& [addr, node] : nodes_) s += node->stats_;
    if (sub_) s += sub_->stats_;
    s.redirects = redirects_;
    s.map_refreshes = map_refreshes_;
    return s;
  }

  bool connected() const {
    if (single_) return single_->connected();
    if (sub_) return sub_->connected();
    if (!have_map_) return false;
    for (auto& m : live_masters_) {
      auto it = nodes_.find(m);
      if (it == nodes_.end() || !it->second->connected()) return false;
    }
    return true;
  }

 private:
  struct Waiting {
    Target target;
    std::vector<std::vector<std::string>> argvs;
    std::vector<std::unique_ptr<Pending>> parts;
    std::shared_ptr<SeqState> state;
  };

  // WAIT holds its connection silent for up to wait_timeout: the watchdog must not take that
  // for a hung server.
  static RedisOptions with_wait_patience(RedisOptions o) {
    if (o.wait_replicas > 0)
      o.command_timeout =
          std::max(o.command_timeout, o.wait_timeout + std::chrono::milliseconds(1000));
    return o;
  }

  static void fail(std::vector<std::unique_ptr<Pending>>& parts, const std::string& why) {
    for (auto& p : parts) p->complete(unavailable(why));
  }

  static std::pair<std::string, int> split(const std::string& address) {
    auto colon = address.rfind(':');
    return {address.substr(0, colon), std::atoi(address.c_str() + colon + 1)};
  }

  std::shared_ptr<Impl> make_node(const std::string& host, int port) {
    RedisOptions o = opt_;
    o.host = host;
    o.port = port;
    o.db = 0;
    o.cluster = false;
    o.seeds.clear();
    return std::make_shared<Impl>(io_, std::move(o));
  }

  // The connection to a node, made on first use.
  std::shared_ptr<Impl> node_at(const std::string& address) {
    auto it = nodes_.find(address);
    if (it != nodes_.end()) return it->second;
    auto [host, port] = split(address);
    auto node = make_node(host, port);
    node->on_down = [w = weak_from_this()] {
      if (auto self = w.lock()) self->request_refresh();
    };
    node->connect();
    nodes_.emplace(address, node);
    return node;
  }

  // A keyless command: the next connected master (round robin), else any master.
  std::shared_ptr<Impl> any_master() {
    if (live_masters_.empty()) return nullptr;
    for (size_t i = 0; i < live_masters_.size(); ++i) {
      auto& m = live_masters_[(next_any_ + i) % live_masters_.size()];
      auto node = node_at(m);
      if (node->connected()) {
        next_any_ = (next_any_ + i + 1) % live_masters_.size();
        return node;
      }
    }
    return node_at(live_masters_[next_any_++ % live_masters_.size()]);
  }

  // Where a moving connection goes next: the map's masters, then the seeds, in turn.
  std::function<std::pair<std::string, int>()> rotation() {
    return [w = weak_from_this(), i = size_t{0}]() mutable -> std::pair<std::string, int> {
      auto self = w.lock();
      if (!self) return {"127.0.0.1", 0};
      std::vector<std::pair<std::string, int>> all;
      for (auto& m : self->live_masters_) all.push_back(split(m));
      for (auto& s : self->seeds_)
        if (std::find(all.begin(), all.end(), s) == all.end()) all.push_back(s);
      return all[i++ % all.size()];
    };
  }

  void retire(const std::shared_ptr<Impl>& node) {
    retired_ += node->stats_;
    node->stop();
  }

  void refresh_at(Clock2::time_point when) {
    if (timer_armed_ && timer_due_ <= when) return;
    timer_armed_ = true;
    timer_due_ = when;
    refresh_timer_.expires_at(when);
    refresh_timer_.async_wait([w = weak_from_this(), when](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (!self || ec || self->timer_due_ != when) return;
      self->timer_armed_ = false;
      if (!self->refreshing_) self->refresh();
    });
  }

  // Asks for the map on a connected master's connection (pipelined with the commands), or, when
  // no master is connected (the start, every master lost, subscribe mode), on the map's own
  // connection, which moves between the known nodes until one answers.
  void refresh() {
    if (stopped_) return;
    refreshing_ = true;
    refresh_again_ = false;
    ++map_refreshes_;
    std::shared_ptr<Impl> via;
    if (!subscribing_) {
      for (auto& m : live_masters_) {
        auto it = nodes_.find(m);
        if (it != nodes_.end() && it->second->connected()) {
          via = it->second;
          break;
        }
      }
    }
    if (!via) {
      if (!probe_) {
        auto first = rotation()();
        probe_ = make_node(first.first, first.second);
        probe_->next_endpoint = rotation();
        probe_->connect();
      }
      via = probe_;
    }
    std::string asked = via->options().host;  // the host an empty host in the reply means
    refreshed_by_ = via->endpoint();
    via->submit({"CLUSTER", "SLOTS"},
                std::make_unique<InternalOp>([w = weak_from_this(), asked](Result<RedisReply> r) {
                  // Applied outside the hiredis callback: it starts and stops connections.
                  auto self = w.lock();
                  if (!self) return;
                  asio::post(self->io_, [w, asked, r = std::move(r)]() mutable {
                    if (auto self = w.lock()) self->refreshed(std::move(r), asked);
                  });
                }));
  }

  void refreshed(Result<RedisReply> r, const std::string& asked) {
    refreshing_ = false;
    last_refresh_ = Clock2::now();
    if (stopped_) return;
    std::optional<cluster::SlotMap> map;
    if (r.ok() && !r->is_error()) map = cluster::parse_cluster_slots(*r, asked);
    if (map) {
      if (map_failing_) logger().info("cluster map from {} again", refreshed_by_);
      map_failing_ = false;
      apply(*map);
    } else {
      // The first failure of a streak is a warning; the retries (every 200 ms) are debug.
      std::string why = !r.ok() ? r.error().message : r->is_error() ? r->str : "not a slot map";
      if (!map_failing_)
        logger().warn("no cluster map from {}: {}; asking again", refreshed_by_, why);
      else
        logger().debug("no cluster map from {}: {}", refreshed_by_, why);
      map_failing_ = true;
      if (!have_map_) {
        auto waiting = std::move(waiting_);
        waiting_.clear();
        for (auto& w : waiting)
          fail(w.parts, "no cluster map yet (" + (!r.ok() ? r.error().message : r->str) + ")");
      }
    }
    bool down = !have_map_ || !map;
    if (have_map_ && !subscribing_)
      for (auto& m : live_masters_)
        if (!node_at(m)->connected()) down = true;
    if (refresh_again_ && !down) {
      refresh_at(last_refresh_ + kRefreshGap);
    } else {
      refresh_at(last_refresh_ + (down ? kRefreshWhileDown : kRefreshQuiet));
    }
  }

  void apply(const cluster::SlotMap& map) {
    std::vector<std::string> masters;
    for (auto& [host, port] : map.masters) masters.push_back(cluster::address(host, port));
    if (masters != live_masters_)
      logger().info("cluster map: {} masters ({})", masters.size(), fmt_list(masters));
    masters_ = masters;
    live_masters_ = masters;
    slot_master_ = map.slot_master;
    have_map_ = true;
    next_any_ = 0;
    // Drop connections to nodes that are no longer masters; connect to every master now, so
    // that connected() means "every master is reachable".
    if (!subscribing_) {
      for (auto it = nodes_.begin(); it != nodes_.end();) {
        if (std::find(masters_.begin(), masters_.end(), it->first) == masters_.end()) {
          retire(it->second);
          it = nodes_.erase(it);
        } else {
          ++it;
        }
      }
      for (auto& m : masters_) node_at(m);
      // The map's own connection is needed again only if every master is lost.
      if (probe_) {
        probe_->stop();
        probe_ = nullptr;
      }
    }
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) {
      // The parts were made for this sequence already: hand the sequence on unchanged.
      std::shared_ptr<Impl> node;
      if (w.target.slot) {
        int m = slot_master_[static_cast<size_t>(*w.target.slot)];
        if (m >= 0) node = node_at(masters_[static_cast<size_t>(m)]);
      } else {
        node = any_master();
      }
      if (!node) {
        fail(w.parts, "no master serves slot " + std::to_string(w.target.slot.value_or(-1)));
        continue;
      }
      w.state->result.node = node->endpoint();
      node->submit_seq(std::move(w.argvs), std::move(w.parts));
    }
  }

  static std::string fmt_list(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  asio::io_context& io_;
  const RedisOptions opt_;
  std::shared_ptr<Impl> single_;  // standalone
  // Cluster.
  std::vector<std::pair<std::string, int>> seeds_;  // host/port of the options, then seeds
  std::shared_ptr<Impl> probe_;  // asks for the map while no master connection can (or null)
  std::string refreshed_by_;     // the node the last map was asked of (for the logs)
  std::shared_ptr<Impl> sub_;                       // subscribe mode
  bool subscribing_ = false;
  std::unordered_map<std::string, std::shared_ptr<Impl>> nodes_;  // by "host:port"
  std::vector<std::string> masters_;       // slot_master_ indexes here (MOVED may append)
  std::vector<std::string> live_masters_;  // the masters of the last map
  std::vector<int> slot_master_;
  bool have_map_ = false;
  size_t next_any_ = 0;
  std::deque<Waiting> waiting_;
  bool refreshing_ = false;
  bool refresh_again_ = false;
  bool map_failing_ = false;  // the last refresh failed (log the first failure and the recovery)
  Clock2::time_point last_refresh_{};
  asio::steady_timer refresh_timer_;
  bool timer_armed_ = false;
  Clock2::time_point timer_due_{};
  uint64_t redirects_ = 0;
  uint64_t map_refreshes_ = 0;
  Stats retired_;
  bool stopped_ = false;
};

namespace {

struct Call {
  std::vector<std::string> argv;
  const RedisScript* script = nullptr;  // EVALSHA of it: NOSCRIPT → SCRIPT LOAD on that node
  bool replicated = false;              // followed by WAIT when wait_replicas > 0
};

// Starts a sequence on the client's thread (inline when already there: hiredis is
// single-threaded); the handler completes on its own executor.
template <class Router>
struct SendSeq {
  std::shared_ptr<Router> router;
  template <class Handler>
  void operator()(Handler handler, Target target,
                  std::vector<std::vector<std::string>> argvs) const {
    auto state = std::make_shared<SeqOp<std::decay_t<Handler>>>(argvs.size(), std::move(handler));
    asio::dispatch(router->executor(), [router = router, target = std::move(target),
                                        argvs = std::move(argvs), state]() mutable {
      router->dispatch(std::move(target), std::move(argvs), std::move(state));
    });
  }
};

// Sends `argvs` back-to-back to the target. Not a coroutine: the awaitable it returns holds
// its arguments by value (no temporaries of a coroutine call in the caller's co_await).
template <class Router>
auto send_seq(const std::shared_ptr<Router>& router, const Target& target,
              std::vector<std::vector<std::string>> argvs) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(SeqResult)>(
      SendSeq<Router>{router}, asio::use_awaitable, target, std::move(argvs));
}

}  // namespace

// One call: the command, with the redirects, retries, script loading and WAIT it needs.
// Holds the router (not the client): the client may be destroyed while the call waits.
template <class Router>
asio::awaitable<Result<RedisReply>> run_call(std::shared_ptr<Router> router, Call call) {
  const RedisOptions& o = router->options();  // constant after construction
  const bool cluster = o.cluster;
  const bool wait = call.replicated && o.wait_replicas > 0;
  Target target;
  if (cluster) target.slot = cluster::command_slot(call.argv);
  bool asking = false;
  bool load = false;
  int loads = 0;  // a call may meet a node without the script once per node it reaches
  int redirects = 0;
  std::optional<Clock2::time_point> busy_until;
  for (bool more = true; more;) {
    std::vector<std::vector<std::string>> seq;
    if (asking) seq.push_back({"ASKING"});
    if (load) seq.push_back({"SCRIPT", "LOAD", call.script->source()});
    const size_t main = seq.size();
    seq.push_back(call.argv);
    if (wait)
      seq.push_back({"WAIT", std::to_string(o.wait_replicas), std::to_string(o.wait_timeout.count())});
    SeqResult res = co_await send_seq(router, target, std::move(seq));
    // A redirect's target serves this attempt only; the next one asks the map again.
    const bool was_asking = asking;
    target.address.clear();
    asking = false;
    Result<RedisReply>& rep = res.replies[main];
    if (!rep.ok()) {
      // Not resent: it may have run. The node may be gone: look at the map again.
      if (cluster)
        asio::dispatch(router->executor(), [router] { router->request_refresh(); });
      co_return std::move(rep);
    }
    if (load) {
      load = false;
      Result<RedisReply>& l = res.replies[main - 1];
      if (!l.ok() || l->is_error()) co_return std::move(l);
    }
    if (rep->is_error()) {
      if (call.script != nullptr && loads < kMaxLoads && rep->str.starts_with("NOSCRIPT")) {
        // This node lost its script cache (restart, failover, SCRIPT FLUSH, a new master), or
        // never had it (a slot's importing node, reached by ASK): load it there, right before
        // the retry, and retry on that same node (with ASKING again if this attempt was an ASK).
        load = true;
        ++loads;
        if (cluster) {
          target.address = res.node;
          asking = was_asking;
        }
        continue;
      }
      if (!cluster) co_return std::move(rep);
      auto rd = cluster::parse_redirect(*rep);
      if (rd && rd->ask) {
        // A slot being migrated. The importing node may answer TRYAGAIN (some of the call's keys
        // not moved yet), and the retry must ask the source again, which sends us back: a
        // migration in progress, bounded by the same patience as TRYAGAIN, not by a count.
        auto now = Clock2::now();
        if (!busy_until) busy_until = now + kBusyPatience;
        if (now >= *busy_until) co_return std::move(rep);
      }
      if (rd && (rd->ask || redirects < kMaxRedirects)) {
        if (!rd->ask) ++redirects;
        std::string host = rd->host;
        if (host.empty()) host = res.node.substr(0, res.node.rfind(':'));
        std::string addr = cluster::address(host, rd->port);
        bool ask = rd->ask;
        int slot = rd->slot;
        asio::dispatch(router->executor(), [router, ask, slot, addr] {
          if (ask)
            router->asked();
          else
            router->moved(slot, addr);
        });
        target.address = addr;
        asking = ask;
        continue;
      }
      bool tryagain = rep->str.starts_with("TRYAGAIN");
      bool down = rep->str.starts_with("CLUSTERDOWN");
      if (tryagain || down) {
        auto now = Clock2::now();
        if (!busy_until) busy_until = now + kBusyPatience;
        if (now < *busy_until) {
          if (down) asio::dispatch(router->executor(), [router] { router->request_refresh(); });
          asio::steady_timer t(co_await asio::this_coro::executor);
          t.expires_after(kBusyRetry);
          co_await t.async_wait(asio::use_awaitable);
          continue;
        }
      }
      co_return std::move(rep);
    }
    if (wait) {
      Result<RedisReply>& w = res.replies.back();
      auto acked = w.ok() ? w->as_int() : std::nullopt;
      if (!acked || *acked < o.wait_replicas)
        co_return unavailable("write not acknowledged by " + std::to_string(o.wait_replicas) +
                              " replicas within " + std::to_string(o.wait_timeout.count()) +
                              " ms");
    }
    co_return std::move(rep);
  }
  co_return err(Errc::internal, "redis: unreachable");
}

RedisClient::RedisClient(asio::io_context& io, RedisOptions options)
    : router_(std::make_shared<Router>(io, std::move(options))) {
  router_->start();
}

RedisClient::~RedisClient() { router_->stop(); }

asio::awaitable<Result<RedisReply>> RedisClient::command(std::vector<std::string> argv) {
  if (argv.empty()) co_return err(Errc::internal, "redis: empty command");
  // A named Call, not a temporary in the co_await (GCC 12 destroys such temporaries twice).
  Call call;
  call.argv = std::move(argv);
  co_return co_await run_call(router_, std::move(call));
}

asio::awaitable<Result<RedisReply>> RedisClient::command_replicated(
    std::vector<std::string> argv) {
  if (argv.empty()) co_return err(Errc::internal, "redis: empty command");
  Call call;
  call.argv = std::move(argv);
  call.replicated = true;
  co_return co_await run_call(router_, std::move(call));
}

asio::awaitable<Result<RedisReply>> RedisClient::eval(const RedisScript& script,
                                                      std::vector<std::string> keys,
                                                      std::vector<std::string> args) {
  Call call;
  call.argv.reserve(3 + keys.size() + args.size());
  call.argv.push_back("EVALSHA");
  call.argv.push_back(script.sha());
  call.argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) call.argv.push_back(std::move(k));
  for (auto& a : args) call.argv.push_back(std::move(a));
  call.script = &script;
  call.replicated = script.durability() == RedisScript::Durability::replicated;
  co_return co_await run_call(router_, std::move(call));
}

void RedisClient::subscribe(std::string channel, std::function<void(std::string_view)> on_message,
                            std::function<void()> on_subscribed) {
  router_->subscribe(std::move(channel), std::move(on_message), std::move(on_subscribed));
}

RedisClient::Stats RedisClient::stats() const { return router_->stats(); }
bool RedisClient::connected() const { return router_->connected(); }
const RedisOptions& RedisClient::options() const { return router_->options(); }

}  // namespace anteroom::redis
