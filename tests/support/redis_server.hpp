// A real redis-server for tests: `redis-server --port <free port> --save '' --appendonly <yes|no>
// --dir <fresh temp dir>` started as a child process, ready (answering PING) when the constructor
// returns.
//
// Lifetime: the destructor kills the server by PID (SIGKILL), reaps it and deletes its directory.
// The child also gets SIGKILL if the thread that started it dies (PR_SET_PDEATHSIG), so a
// crashing test binary leaves no server behind. kill9() and restart() keep port and directory,
// so with appendonly the data survives a kill9() + restart() (appendfsync always: nothing lost).
// Failure: the constructor and restart() throw std::runtime_error (with the end of the server's
// log) if redis-server cannot be started or does not answer PING within start_timeout.
// Thread safety: none; use one RedisServer from one thread.
// Options::cluster starts a ONE-node Redis Cluster (--cluster-enabled yes, all 16384 slots
// assigned to it, ready once CLUSTER INFO says cluster_state:ok): Redis then refuses cross-slot
// commands and scripts exactly as a real multi-node cluster does (CROSSSLOT), so a test passing
// against it proves the commands slot-safe. restart() keeps its nodes.conf (and its slots).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace anteroom::testing {

// A port the kernel just handed out on 127.0.0.1, so very likely free (the caller binds it soon).
int free_port();

class RedisServer {
 public:
  struct Options {
    bool appendonly = false;
    std::vector<std::string> extra_args;  // more redis-server flags, e.g. {"--maxmemory", "1mb"}
    std::chrono::milliseconds start_timeout{10'000};
    bool cluster = false;  // a one-node cluster, see above
  };

  RedisServer();
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  bool cluster() const { return options_.cluster; }
  // redis-cluster://... for a cluster (the seed node), else redis://...
  std::string url() const {
    return (options_.cluster ? "redis-cluster://127.0.0.1:" : "redis://127.0.0.1:") +
           std::to_string(port_);
  }
  // The server's PID, or 0 while it is not running (after kill9()).
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }

  // SIGKILL, as a crash would: no shutdown, no final save. Returns once the process is reaped.
  void kill9();
  // Starts the server again on the same port and directory (killing it first if it runs) and
  // waits until it answers PING, which with appendonly means the AOF has been loaded.
  void restart();

 private:
  // Spawns redis-server on port_ and waits for PING. On failure returns false with `why`.
  bool start(std::string& why);
  // Cluster only: assigns every slot to this node (once: a restart keeps nodes.conf) and waits
  // for cluster_state:ok. On failure returns false with `why`.
  bool form_cluster(std::string& why);
  std::string log_tail() const;

  Options options_;
  std::string binary_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace anteroom::testing
