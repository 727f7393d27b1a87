#include "support/redis_cluster.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/process.hpp"

namespace anteroom::testing {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(20);
constexpr auto kWaitTimeout = std::chrono::seconds(60);

// (free_port, redis_server.hpp, picks each node's cluster bus port (--cluster-port): the default,
// port + 10000, is beyond 65535 for most ephemeral ports.)

std::string field_of(const std::string& text, const std::string& field) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

}  // namespace

RedisCluster::RedisCluster() : RedisCluster(Options{}) {}

RedisCluster::RedisCluster(Options options) : options_(std::move(options)) {
  const int total = options_.masters * (1 + options_.replicas);
  std::vector<std::string> create{"redis-cli", "--cluster", "create"};
  for (int i = 0; i < total; ++i) {
    RedisServer::Options so;
    so.appendonly = options_.appendonly;
    so.extra_args = {"--cluster-enabled",
                     "yes",
                     "--cluster-config-file",
                     "nodes.conf",
                     "--cluster-node-timeout",
                     std::to_string(options_.node_timeout_ms),
                     "--cluster-port",
                     std::to_string(free_port()),
                     // A replica may take over whatever its link's age: the tests kill masters
                     // moments after writing.
                     "--cluster-replica-validity-factor",
                     "0"};
    so.extra_args.insert(so.extra_args.end(), options_.extra_args.begin(),
                         options_.extra_args.end());
    auto server = std::make_unique<RedisServer>(so);
    int port = server->port();
    create.push_back("127.0.0.1:" + std::to_string(port));
    nodes_[port].server = std::move(server);
  }
  create.insert(create.end(),
                {"--cluster-replicas", std::to_string(options_.replicas), "--cluster-yes"});
  Process::Options po;
  po.path = "/usr/bin/redis-cli";
  po.args.assign(create.begin() + 1, create.end());
  Process cli(po);
  auto st = cli.WaitExit(DeadlineIn(kWaitTimeout));
  if (!st || !st->exited || st->code != 0)
    throw std::runtime_error("redis-cli --cluster create failed:\n" + cli.Stdout() + cli.Stderr());
  for (auto& [port, node] : nodes_) node.id = command(port, {"CLUSTER", "MYID"}).str;
  wait_whole();
}

RedisCluster::~RedisCluster() = default;

std::string RedisCluster::url() const {
  std::string u = "redis-cluster://";
  bool first = true;
  for (auto& [port, _] : nodes_) {
    if (!first) u += ",";
    first = false;
    u += "127.0.0.1:" + std::to_string(port);
  }
  return u;
}

std::vector<int> RedisCluster::ports() const {
  std::vector<int> out;
  for (auto& [port, _] : nodes_) out.push_back(port);
  return out;
}

bool RedisCluster::running(int port) const {
  auto it = nodes_.find(port);
  return it != nodes_.end() && it->second.server->pid() != 0;
}

int RedisCluster::any_running() const {
  for (auto& [port, _] : nodes_)
    if (running(port)) return port;
  throw std::runtime_error("no cluster node is running");
}

RespValue RedisCluster::command(int port, const std::vector<std::string>& argv) const {
  // One kept connection per node: the waits poll every node every 20 ms, and a connection per
  // command would take thousands of ephemeral ports, which other tests' servers (given a free
  // port, then binding it) could then find taken.
  auto& c = conns_[port];
  try {
    if (!c) c = std::make_unique<RedisConn>(port, std::chrono::seconds(10));
    return c->Command(argv);
  } catch (...) {
    c.reset();  // (a killed node, a dropped connection: a fresh one next time)
    throw;
  }
}

std::string RedisCluster::info_field(int port, const std::string& section,
                                     const std::string& field) const {
  auto r = section == "cluster" ? command(port, {"CLUSTER", "INFO"})
                                : command(port, {"INFO", section});
  return field_of(r.str, field);
}

std::string RedisCluster::node_id(int port) const { return nodes_.at(port).id; }

std::vector<std::array<int, 3>> RedisCluster::slot_ranges(int port) const {
  std::vector<std::array<int, 3>> out;
  auto r = command(port, {"CLUSTER", "SLOTS"});
  for (auto& range : r.elements) {
    if (range.elements.size() < 3) continue;
    out.push_back({static_cast<int>(range.elements[0].integer),
                   static_cast<int>(range.elements[1].integer),
                   static_cast<int>(range.elements[2].elements.at(1).integer)});
  }
  return out;
}

std::vector<int> RedisCluster::master_ports() const {
  std::set<int> masters;
  for (auto& r : slot_ranges(any_running())) masters.insert(r[2]);
  return {masters.begin(), masters.end()};
}

int RedisCluster::master_of_slot(int slot) const {
  for (auto& r : slot_ranges(any_running()))
    if (slot >= r[0] && slot <= r[1]) return r[2];
  return 0;
}

int RedisCluster::master_of_key(const std::string& key) const {
  auto slot = command(any_running(), {"CLUSTER", "KEYSLOT", key});
  return master_of_slot(static_cast<int>(slot.integer));
}

int RedisCluster::replica_of(int master_port) const {
  const std::string& id = node_id(master_port);
  for (auto& [port, _] : nodes_) {
    if (!running(port) || port == master_port) continue;
    if (info_field(port, "replication", "role") != "slave") continue;
    if (info_field(port, "replication", "master_port") != std::to_string(master_port)) continue;
    if (info_field(port, "replication", "master_link_status") != "up") continue;
    (void)id;
    return port;
  }
  return 0;
}

void RedisCluster::wait_replicated(int master_port) {
  const long long target = std::stoll(info_field(master_port, "replication", "master_repl_offset"));
  std::string seen;
  bool ok = PollUntil(
      [&] {
        auto text = command(master_port, {"INFO", "replication"}).str;
        int linked = std::stoi(field_of(text, "connected_slaves").empty()
                                   ? "0"
                                   : field_of(text, "connected_slaves"));
        for (int i = 0; i < linked; ++i) {
          // slave0:ip=127.0.0.1,port=N,state=online,offset=N,lag=0
          std::string row = field_of(text, "slave" + std::to_string(i));
          auto at = row.find("offset=");
          if (at == std::string::npos) return false;
          if (std::stoll(row.substr(at + 7)) < target) {
            seen = row;
            return false;
          }
        }
        return true;
      },
      DeadlineIn(kWaitTimeout), kPoll);
  if (!ok) throw std::runtime_error("replicas of " + std::to_string(master_port) + " lag: " + seen);
}

pid_t RedisCluster::pid(int port) const { return nodes_.at(port).server->pid(); }

void RedisCluster::kill9(int port) {
  conns_.erase(port);
  nodes_.at(port).server->kill9();
}

void RedisCluster::restart(int port) {
  conns_.erase(port);
  nodes_.at(port).server->restart();
  wait_whole();
}

void RedisCluster::wait_for_failover(int dead_port) {
  std::string seen;
  bool ok = PollUntil(
      [&] {
        try {
          for (auto& [port, _] : nodes_) {
            if (!running(port)) continue;
            if (info_field(port, "cluster", "cluster_state") != "ok") {
              seen = std::to_string(port) + " not ok";
              return false;
            }
            int covered = 0;
            for (auto& r : slot_ranges(port)) {
              if (r[2] == dead_port || !running(r[2])) {
                seen = std::to_string(port) + " still maps slots to " + std::to_string(r[2]);
                return false;
              }
              covered += r[1] - r[0] + 1;
            }
            if (covered != 16384) {
              seen = std::to_string(port) + " covers " + std::to_string(covered) + " slots";
              return false;
            }
          }
          return true;
        } catch (const std::exception& e) {
          seen = e.what();
          return false;
        }
      },
      DeadlineIn(kWaitTimeout), kPoll);
  if (!ok) throw std::runtime_error("no failover of " + std::to_string(dead_port) + ": " + seen);
}

void RedisCluster::wait_whole() {
  std::string seen;
  bool ok = PollUntil(
      [&] {
        try {
          std::vector<std::array<int, 3>> first;
          bool have_first = false;
          std::map<int, int> linked;  // master port -> replicas with link up
          int replicas_running = 0;
          for (auto& [port, _] : nodes_) {
            if (!running(port)) continue;
            if (info_field(port, "cluster", "cluster_state") != "ok") {
              seen = std::to_string(port) + " cluster_state not ok";
              return false;
            }
            auto ranges = slot_ranges(port);
            if (!have_first) {
              first = ranges;
              have_first = true;
            } else if (ranges != first) {
              seen = std::to_string(port) + " sees another slot map";
              return false;
            }
            if (info_field(port, "replication", "role") == "slave") {
              ++replicas_running;
              if (info_field(port, "replication", "master_link_status") == "up")
                ++linked[std::stoi(info_field(port, "replication", "master_port"))];
            }
          }
          int total_linked = 0;
          for (auto& [_, n] : linked) total_linked += n;
          if (total_linked != replicas_running) {
            seen = std::to_string(replicas_running - total_linked) + " replicas not linked";
            return false;
          }
          return true;
        } catch (const std::exception& e) {
          seen = e.what();
          return false;
        }
      },
      DeadlineIn(options_.ready_timeout), kPoll);
  if (!ok) throw std::runtime_error("cluster not whole: " + seen);
}

void RedisCluster::migrate_slot(int slot, int to_port, bool finish) {
  const int from = master_of_slot(slot);
  if (from == to_port) return;
  const std::string s = std::to_string(slot);
  auto check = [](const RespValue& r, const char* what) {
    if (r.is_error()) throw std::runtime_error(std::string(what) + ": " + r.str);
  };
  check(command(to_port, {"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)}), "IMPORTING");
  check(command(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to_port)}), "MIGRATING");
  for (;;) {
    auto keys = command(from, {"CLUSTER", "GETKEYSINSLOT", s, "100"});
    if (keys.elements.empty()) break;
    std::vector<std::string> argv{"MIGRATE", "127.0.0.1", std::to_string(to_port), "", "0",
                                  "10000", "KEYS"};
    for (auto& k : keys.elements) argv.push_back(k.str);
    check(command(from, argv), "MIGRATE");
  }
  if (!finish) return;
  check(command(to_port, {"CLUSTER", "SETSLOT", s, "NODE", node_id(to_port)}), "NODE (target)");
  check(command(from, {"CLUSTER", "SETSLOT", s, "NODE", node_id(to_port)}), "NODE (source)");
  for (int m : master_ports())
    if (m != from && m != to_port) command(m, {"CLUSTER", "SETSLOT", s, "NODE", node_id(to_port)});
  wait_whole();
}

}  // namespace anteroom::testing
