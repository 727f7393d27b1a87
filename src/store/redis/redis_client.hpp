#pragma once
// RedisClient: hiredis connections driven by an io_context, shared by every caller. Against one
// server (redis://) it is one connection; against a Redis Cluster (redis-cluster://) it is one
// connection per master, and each command goes to the master serving its key's slot.
//
// Pipelining: commands issued while others are in flight go out together (hiredis buffers them
// into one write) and replies come back in order, so concurrent coroutines pipeline for free.
// Never issue blocking commands (BLPOP, XREAD BLOCK, SUBSCRIBE) on a shared client: everything
// queued behind them would wait, and the command timeout would drop the connection.
//
// Failure: the constructor starts connecting; whenever the connection drops (EOF, I/O error, a
// failed handshake, or no reply for command_timeout) the client reconnects by itself with
// jittered exponential backoff. While no connection is up, command() fails at once with
// Errc::unavailable; a command issued during a connect attempt waits for it (at most
// connect_timeout). A command in flight when the connection drops fails with Errc::unavailable
// and may or may not have run on the server. Error replies from Redis (including script errors)
// are not failures of the call: they come back as a RedisReply of type error.
//
// Cluster mode (RedisOptions::cluster): the slot map comes from CLUSTER SLOTS, asked on a
// connected master's connection, or while there is none (the start, every master lost) on one
// more connection that moves between the known nodes (the map's masters, then the seeds) until
// one answers. A command goes to the master of its key's slot (cluster::command_slot; a command
// without a key goes to any connected master). Redirects are followed inside the call: MOVED
// (the slot moved: the map is corrected and refreshed; at most 5 per call) and ASK (a migration:
// ASKING + the command on the importing node); TRYAGAIN and CLUSTERDOWN are retried every 25 ms,
// and a migration's ASK/TRYAGAIN round trips go on, for at most 2 s, then the error reply is
// returned. A call whose node is unreachable fails
// with Errc::unavailable at once (never resent: it may have run) and makes the client refresh
// its map: every 200 ms while any master of the map is unreachable (so a promoted replica is
// found within a refresh of its election), else every 10 s. Commands issued before the first map
// wait for it (they fail with unavailable if no node answers).
//
// WAIT (RedisOptions::wait_replicas > 0): eval() of a `replicated` script and
// command_replicated() send `WAIT n timeout` right behind the command on the same connection
// (nothing between them); fewer than n replicas acknowledging fails the call with unavailable
// although the write happened on the master. WAIT holds the connection (and everything pipelined
// behind it) until the replicas answer.
//
// Subscribe mode: subscribe() turns the client's connection into a Pub/Sub subscriber of one
// channel, with the same connect/AUTH/backoff/reconnect as commands. After every (re)connect the
// client SUBSCRIBEs again; Redis drops what is published while a subscriber is away, so
// `on_subscribed` runs after each confirmed (re)subscription for the owner to resynchronise.
// A client in subscribe mode is for that channel only: send no command() on it. No reply is
// expected on an idle subscription, so a hung server there is noticed only by a disconnect.
// In cluster mode the subscription is on one node (a PUBLISH reaches every node of a cluster);
// when that connection is lost the subscriber moves to the next node (the map's masters, then
// the seeds, rotating).
//
// Threading: every hiredis call happens on the client's io_context, which must be run by exactly
// one thread. command() may be called from any thread or executor; it completes on the caller's
// executor (the awaiting coroutine's), never inline.
// Lifetime: destroy the client on its io thread or while its io_context is not running. Commands
// still pending then complete with Errc::unavailable.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace anteroom::redis {

// A RESP2 reply that owns its data (copied out of hiredis' reply in the callback).
struct RedisReply {
  enum class Type : uint8_t { nil, status, error, integer, string, array };

  Type type = Type::nil;
  int64_t integer = 0;               // integer
  std::string str;                   // status, error, string
  std::vector<RedisReply> elements;  // array

  bool is_error() const { return type == Type::error; }
  bool is_nil() const { return type == Type::nil; }
  bool is_array() const { return type == Type::array; }
  // An integer reply, or a string/status reply holding a whole decimal number.
  std::optional<int64_t> as_int() const;
  // An integer reply, or a string/status reply holding a number.
  std::optional<double> as_double() const;
};

struct RedisOptions {
  std::string host = "127.0.0.1";  // resolved with a blocking lookup: prefer an IP address
  int port = 6379;
  int db = 0;
  std::string user;      // ACL user for AUTH (empty: the default user)
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{5000};  // the oldest unanswered command's patience
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{1000};
  size_t max_held = 100'000;  // commands waiting for a connect attempt beyond this fail at once

  // Redis Cluster (docs/distributed.md "Redis Cluster"): commands are routed by their key's
  // slot (key_slot) over one connection per master; host/port above and `seeds` are the nodes
  // asked for the slot map. Set by from_url for a redis-cluster:// URL.
  bool cluster = false;
  std::vector<std::pair<std::string, int>> seeds;  // more seed nodes (cluster only)
  // > 0: a mutating script (and command_replicated) is followed, on the same connection, by
  // WAIT wait_replicas wait_timeout; fewer replicas acknowledging fails the call (unavailable).
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};

  // redis://[[user]:password@]host[:port][/db], or
  // redis-cluster://[[user]:password@]host[:port][,host[:port]...] (no /db: a cluster has db 0).
  static Result<RedisOptions> from_url(std::string_view url);
};

// A Lua script with its SHA1, computed locally so EVALSHA needs no prior round trip.
// `replicated` (the default): a script that changes state; with RedisOptions::wait_replicas its
// eval waits for the replicas (WAIT). `unreplicated`: a read, or a write whose loss in a failover
// harms nobody (touch): no WAIT.
class RedisScript {
 public:
  enum class Durability { replicated, unreplicated };
  explicit RedisScript(std::string source, Durability durability = Durability::replicated);
  const std::string& source() const { return source_; }
  const std::string& sha() const { return sha_; }
  Durability durability() const { return durability_; }

 private:
  std::string source_;
  std::string sha_;
  Durability durability_;
};

class RedisClient {
 public:
  RedisClient(boost::asio::io_context& io, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command (argv[0] is the command name; arguments are binary-safe).
  boost::asio::awaitable<Result<RedisReply>> command(std::vector<std::string> argv);

  // command() followed by WAIT when wait_replicas > 0 (see above): for a command that writes,
  // e.g. XREADGROUP (its pending-entry list), whose effect must survive a failover.
  boost::asio::awaitable<Result<RedisReply>> command_replicated(std::vector<std::string> argv);

  // EVALSHA; on NOSCRIPT (a restarted or flushed server, a new master) loads the script on that
  // node and retries once. Followed by WAIT for a `replicated` script when wait_replicas > 0.
  // `script` must outlive the call.
  boost::asio::awaitable<Result<RedisReply>> eval(const RedisScript& script,
                                                  std::vector<std::string> keys,
                                                  std::vector<std::string> args);

  // Enters subscribe mode (see above); call once, on the io thread. `on_message` gets each
  // message's payload, synchronously inside the hiredis callback (it must not destroy the
  // client); `on_subscribed` is posted to the io_context after each confirmed (re)subscription.
  void subscribe(std::string channel, std::function<void(std::string_view)> on_message,
                 std::function<void()> on_subscribed);

  struct Stats {
    uint64_t connects = 0;     // handshakes completed
    uint64_t disconnects = 0;  // established connections lost or dropped
    uint64_t timeouts = 0;     // connections dropped because Redis stopped answering
    uint64_t subscribes = 0;   // subscribe mode: subscriptions confirmed by Redis
    uint64_t redirects = 0;      // cluster: MOVED and ASK replies followed
    uint64_t map_refreshes = 0;  // cluster: CLUSTER SLOTS asked
  };
  // Call on the io thread only. Cluster: the sum over the nodes' connections (the map's
  // connection not included); connected() is true when every master of the map is connected.
  Stats stats() const;
  bool connected() const;
  const RedisOptions& options() const;

 private:
  class Impl;    // one connection
  class Router;  // the connections, and which one a command goes to
  std::shared_ptr<Router> router_;
};

}  // namespace anteroom::redis
