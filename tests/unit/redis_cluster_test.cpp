// The test support's RedisCluster itself (tests/support/redis_cluster.hpp): what the cluster
// tests rely on - three masters each with a linked replica, a slot moved with its keys, a
// killed master failed over to its replica and rejoining as a replica when restarted.
#include "support/redis_cluster.hpp"

#include <gtest/gtest.h>

#include <set>

namespace anteroom::testing {
namespace {

TEST(RedisClusterFixture, ThreeMastersWithReplicasMigrateAndFailOver) {
  RedisCluster c;
  auto masters = c.master_ports();
  ASSERT_EQ(masters.size(), 3u);
  for (int m : masters) EXPECT_NE(c.replica_of(m), 0) << m;

  // A key written on its master moves with its slot.
  const std::string key = "aq:{fixture}:meta";
  int from = c.master_of_key(key);
  ASSERT_EQ(c.command(from, {"SET", key, "v"}).str, "OK");
  int slot = static_cast<int>(c.command(from, {"CLUSTER", "KEYSLOT", key}).integer);
  int to = masters[0] == from ? masters[1] : masters[0];
  c.migrate_slot(slot, to);
  EXPECT_EQ(c.master_of_slot(slot), to);
  EXPECT_EQ(c.command(to, {"GET", key}).str, "v");
  EXPECT_TRUE(c.command(from, {"GET", key}).is_error());  // MOVED

  // The slot's master dies: its replica takes over with the key.
  int replica = c.replica_of(to);
  ASSERT_NE(replica, 0);
  c.wait_replicated(to);  // (replication is asynchronous: unacknowledged writes may be lost)
  c.kill9(to);
  c.wait_for_failover(to);
  EXPECT_EQ(c.master_of_slot(slot), replica);
  EXPECT_EQ(c.command(replica, {"GET", key}).str, "v");

  // Back, as a replica of the new master.
  c.restart(to);
  EXPECT_EQ(c.replica_of(replica), to);
  EXPECT_EQ(c.master_ports().size(), 3u);
}

}  // namespace
}  // namespace anteroom::testing
