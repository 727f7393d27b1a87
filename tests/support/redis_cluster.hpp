// A real Redis Cluster for tests: `masters` + `masters * replicas` redis-server processes with
// --cluster-enabled yes on loopback (each a RedisServer: own port, directory, nodes.conf), made
// one cluster with `redis-cli --cluster create --cluster-replicas <replicas>`, ready when the
// constructor returns: cluster_state:ok on every node, every master with its replicas linked.
//
// Inspection goes through the cluster itself (CLUSTER SLOTS / INFO asked of a live node), so a
// test asserts what the cluster says, not what the fixture assumed: after a failover the master
// of a slot is whoever the cluster elected.
//
// Failure: the constructor and the waits throw std::runtime_error (with what was last seen) at
// their deadline. Thread safety: none; use one RedisCluster from one thread.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/redis_conn.hpp"
#include "support/redis_server.hpp"

namespace anteroom::testing {

class RedisCluster {
 public:
  struct Options {
    int masters = 3;
    int replicas = 1;  // per master
    int node_timeout_ms = 1000;  // cluster-node-timeout: how soon a dead master is failed over
    bool appendonly = false;
    std::vector<std::string> extra_args;  // more redis-server flags for every node
    std::chrono::milliseconds ready_timeout{60'000};
  };

  RedisCluster();
  explicit RedisCluster(Options options);
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // "redis-cluster://127.0.0.1:p1,127.0.0.1:p2,..." with every node as a seed.
  std::string url() const;
  std::vector<int> ports() const;           // every node, running or not
  std::vector<int> master_ports() const;    // the masters serving slots, as the cluster says now
  int master_of_slot(int slot) const;       // port of the master serving `slot` now
  int master_of_key(const std::string& key) const;  // by CLUSTER KEYSLOT
  int replica_of(int master_port) const;    // port of a linked replica of it (0: none)
  bool running(int port) const;
  // The node's PID (0 while it is not running): e.g. to stall it with SIGSTOP / SIGCONT.
  pid_t pid(int port) const;

  // Until every linked replica of the master has acknowledged all it has written so far (its
  // offset in INFO replication reaches the master's master_repl_offset of now).
  void wait_replicated(int master_port);

  // SIGKILL, as a crash would. Returns once the process is reaped.
  void kill9(int port);
  // Starts the node again on its port, directory and nodes.conf; it rejoins (a killed master
  // that was failed over comes back as a replica). Returns when the cluster is whole again
  // (wait_whole).
  void restart(int port);
  // Until every slot is served by a running master and cluster_state is ok on every running
  // node (a failover of `dead_port`'s slots has happened).
  void wait_for_failover(int dead_port);
  // Until every running node says cluster_state:ok and agrees on the slot map, and every master
  // has as many linked replicas as running nodes replicate it.
  void wait_whole();

  // Moves `slot` (with its keys) from its master to the master `to_port`, as
  // `redis-cli --cluster reshard` does: SETSLOT IMPORTING/MIGRATING, MIGRATE the keys in
  // batches until none is left, then (finish) SETSLOT NODE on the target, the source and every
  // other master. Safe while clients write to the slot (they follow ASK/TRYAGAIN meanwhile).
  void migrate_slot(int slot, int to_port, bool finish = true);

  // One command on one node (a fresh connection). Throws on I/O errors, not on error replies.
  RespValue command(int port, const std::vector<std::string>& argv) const;
  // CLUSTER INFO / INFO fields of one node ("" if absent).
  std::string info_field(int port, const std::string& section, const std::string& field) const;

 private:
  struct Node {
    std::unique_ptr<RedisServer> server;
    std::string id;
  };
  int any_running() const;
  std::string node_id(int port) const;
  // [start, end, master port] of every slot range, as `port` says.
  std::vector<std::array<int, 3>> slot_ranges(int port) const;

  Options options_;
  std::map<int, Node> nodes_;  // by port
  mutable std::map<int, std::unique_ptr<RedisConn>> conns_;  // command()'s, by port
};

}  // namespace anteroom::testing
