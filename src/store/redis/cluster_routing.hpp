#pragma once
// Redis Cluster routing, the pure part: which slot a command goes to, what a redirect error
// says, and the slot map read from a CLUSTER SLOTS reply. No I/O; RedisClient (cluster mode)
// uses these on its io thread. Not for use outside src/store/redis/.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis/redis_client.hpp"

namespace anteroom::redis::cluster {

// The slot of the command's key: argv[1] for ordinary commands, argv[2] after a subcommand
// (XGROUP, XINFO, OBJECT, MEMORY), the first key of EVAL/EVALSHA (when numkeys > 0), the first
// stream after STREAMS of XREAD/XREADGROUP. nullopt: the command
// has no key (PING, INFO, SCRIPT, PUBLISH, CLUSTER, WAIT, ...) and may go to any master.
std::optional<int> command_slot(const std::vector<std::string>& argv);

// "-MOVED 3999 127.0.0.1:6381" / "-ASK 3999 127.0.0.1:6381" (hiredis drops the '-').
struct Redirect {
  bool ask = false;  // ASK (one command, after ASKING) rather than MOVED (the slot moved)
  int slot = 0;
  std::string host;  // empty when Redis does not know its own address: the node asked
  int port = 0;
};
std::optional<Redirect> parse_redirect(const RedisReply& r);

// "host:port" as the connections are keyed.
std::string address(const std::string& host, int port);

// The masters and the slots each serves, from CLUSTER SLOTS. An empty host in the reply ("the
// address you asked me on") becomes `asked_host`. nullopt: not a CLUSTER SLOTS reply.
struct SlotMap {
  std::vector<std::pair<std::string, int>> masters;  // host, port (each once)
  std::vector<int> slot_master;                      // kClusterSlots entries: index or -1
  std::vector<std::pair<std::string, int>> replicas;  // every replica named (for rotation)
};
std::optional<SlotMap> parse_cluster_slots(const RedisReply& r, const std::string& asked_host);

}  // namespace anteroom::redis::cluster
