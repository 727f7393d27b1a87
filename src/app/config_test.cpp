// The settings table: flags, environment and config file reach the Config; bounds refuse with
// exit 2 and a message; docs/configuration.md and the Debian package's commented config file
// (packaging/anteroom.conf) name every setting, so they cannot drift.
#include "app/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace anteroom::app {
namespace {

std::variant<Config, Refusal> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "anteroom");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_args(static_cast<int>(argv.size()), argv.data());
}

Config MustParse(std::vector<std::string> args) {
  auto r = Parse(std::move(args));
  if (auto* refused = std::get_if<Refusal>(&r)) {
    ADD_FAILURE() << "refused (" << refused->exit_code << "): " << refused->message;
    return Config{};
  }
  return std::get<Config>(std::move(r));
}

Refusal MustRefuse(std::vector<std::string> args) {
  auto r = Parse(std::move(args));
  if (auto* refused = std::get_if<Refusal>(&r)) return *refused;
  ADD_FAILURE() << "accepted";
  return Refusal{-1, ""};
}

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_.c_str()); }

 private:
  std::string name_;
};

// Every test starts with no ANTEROOM_* setting in the environment (the caller's shell may have
// some).
class Settings : public ::testing::Test {
 protected:
  void SetUp() override {
    Config c;
    for (const auto& row : settings(c)) unsetenv(env_name(row.name).c_str());
  }
};

TEST_F(Settings, DefaultsComeFromTheStructs) {
  Config c = MustParse({});
  Config fresh;
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, fresh.server.port);
  EXPECT_EQ(c.tick, fresh.tick);
  EXPECT_EQ(c.hub.heartbeat, fresh.hub.heartbeat);
  EXPECT_EQ(c.kafka.topic, fresh.kafka.topic);
  EXPECT_EQ(c.webhooks.retry_window, fresh.webhooks.retry_window);
  EXPECT_FALSE(c.redis);
  EXPECT_FALSE(c.node_id.empty()) << "a node id is made up when none is given";
}

TEST_F(Settings, FlagsReachTheirFields) {
  Config c = MustParse({"--listen", "[::1]:0", "--tick-ms", "20", "--heartbeat-s", "3",
                        "--max-body-bytes", "1024", "--join-rate-per-ip", "2.5", "--trust-proxy",
                        "--webhook-retry-window-s", "60", "--redis", "redis://10.0.0.7:6380/2",
                        "--kafka", "k:9092", "--kafka-topic", "t", "--log-level", "debug"});
  EXPECT_EQ(c.server.host, "::1");
  EXPECT_EQ(c.server.port, 0);
  EXPECT_EQ(c.tick, std::chrono::milliseconds(20));
  EXPECT_EQ(c.hub.heartbeat, std::chrono::seconds(3));
  EXPECT_EQ(c.server.max_body_bytes, 1024u);
  EXPECT_DOUBLE_EQ(c.server.join_rate_per_ip, 2.5);
  EXPECT_TRUE(c.server.trust_proxy);
  EXPECT_EQ(c.webhooks.retry_window, std::chrono::seconds(60));
  ASSERT_TRUE(c.redis);
  EXPECT_EQ(c.redis->host, "10.0.0.7");
  EXPECT_EQ(c.redis->port, 6380);
  EXPECT_EQ(c.redis->db, 2);
  EXPECT_EQ(c.kafka.brokers, "k:9092");
  EXPECT_EQ(c.kafka.topic, "t");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_FALSE(c.webhooks.allow_private) << "webhooks to private addresses are off by default";
  EXPECT_FALSE(c.server.webhook_allow_private);
}

// One flag, read where a webhook is named (PUT) and where it is sent.
TEST_F(Settings, WebhookAllowPrivateReachesBothPlaces) {
  Config c = MustParse({"--webhook-allow-private"});
  EXPECT_TRUE(c.webhooks.allow_private);
  EXPECT_TRUE(c.server.webhook_allow_private);
}

TEST_F(Settings, EnvironmentAndFileReachTheirFields) {
  auto dir = std::filesystem::temp_directory_path() /
             ("anteroom_config_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "anteroom.conf";
  std::ofstream(file) << "max-queues = 7\nnode-id = from-file\ntick-ms = 30\n";
  ScopedEnv tick("ANTEROOM_TICK_MS", "40");
  ScopedEnv proxy("ANTEROOM_TRUST_PROXY", "true");
  ScopedEnv grace("ANTEROOM_SHUTDOWN_GRACE_S", "9");
  Config c = MustParse({"--config", file.string()});
  EXPECT_EQ(c.limits.max_queues, 7);
  EXPECT_EQ(c.node_id, "from-file");
  // CLI11 reads the file first and takes the environment only for what is still unset: a
  // setting in the file beats the environment (as before the table; docs/configuration.md).
  EXPECT_EQ(c.tick, std::chrono::milliseconds(30)) << "the file beats the environment";
  EXPECT_TRUE(c.server.trust_proxy);
  EXPECT_EQ(c.shutdown_grace, std::chrono::seconds(9));
  Config flag_wins = MustParse({"--config", file.string(), "--tick-ms", "50"});
  EXPECT_EQ(flag_wins.tick, std::chrono::milliseconds(50)) << "a flag beats the file";
  ScopedEnv queues("ANTEROOM_MAX_QUEUES", "9");
  Config env_only = MustParse({"--max-queues", "8"});
  EXPECT_EQ(env_only.limits.max_queues, 8) << "a flag beats the environment";
  EXPECT_EQ(MustParse({}).limits.max_queues, 9);
  std::filesystem::remove_all(dir);
}

TEST_F(Settings, AnUnknownKeyInTheFileIsRefusedNamingIt) {
  auto dir = std::filesystem::temp_directory_path() /
             ("anteroom_config_extra_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "anteroom.conf";
  std::ofstream(file) << "max-queues = 7\ntick_ms = 30\n";
  Refusal r = MustRefuse({"--config", file.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.message.find("tick_ms"), std::string::npos) << r.message;
  std::filesystem::remove_all(dir);
}

TEST_F(Settings, OutOfBoundValuesAreRefusedWithExit2AndAReason) {
  Refusal tick = MustRefuse({"--tick-ms", "10001"});
  EXPECT_EQ(tick.exit_code, 2);
  EXPECT_NE(tick.message.find("--tick-ms must be between 1 and 10000"), std::string::npos)
      << tick.message;
  Refusal queues = MustRefuse({"--max-queues", "0"});
  EXPECT_EQ(queues.exit_code, 2);
  EXPECT_NE(queues.message.find("--max-queues must be at least 1"), std::string::npos)
      << queues.message;
  Refusal word = MustRefuse({"--max-body-bytes", "lots"});
  EXPECT_EQ(word.exit_code, 2);
  EXPECT_NE(word.message.find("--max-body-bytes"), std::string::npos) << word.message;
  ScopedEnv env("ANTEROOM_HEARTBEAT_S", "16");
  Refusal from_env = MustRefuse({});
  EXPECT_EQ(from_env.exit_code, 2);
  EXPECT_NE(from_env.message.find("--heartbeat-s must be between 1 and 15"), std::string::npos)
      << from_env.message;
}

TEST_F(Settings, BadValuesAndRelationsAreRefused) {
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--listen", "nonsense"},
           {"--redis", "http://x"},
           {"--redis", "redis://h:99999"},
           {"--kafka", "k:9092"},  // needs --redis
           {"--redis", "redis-cluster://h:7000/1"},  // a cluster has db 0 only
           {"--redis", "redis-cluster://h:7000,"},
           {"--redis-wait-replicas", "1"},  // needs --redis
           {"--redis", "redis://h", "--redis-wait-replicas", "-1"},
           {"--redis", "redis://h", "--redis-wait-timeout-ms", "0"},
           {"--log-level", "loud"},
           {"--demo-queue", "Not_A_Name"},
           {"--kafka-topic", ""},
           {"--join-burst-per-ip", "0.5"},
           {"--no-such-flag", "1"}}) {
    Refusal r = MustRefuse(bad);
    EXPECT_EQ(r.exit_code, 2) << bad[0];
    EXPECT_FALSE(r.message.empty()) << bad[0];
  }
}

TEST_F(Settings, RedisClusterAndWaitReachTheRedisOptions) {
  Config c = MustParse({"--redis", "redis-cluster://10.0.0.1:7000,10.0.0.2:7001",
                        "--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "250"});
  ASSERT_TRUE(c.redis);
  EXPECT_TRUE(c.redis->cluster);
  EXPECT_EQ(c.redis->host, "10.0.0.1");
  EXPECT_EQ(c.redis->port, 7000);
  ASSERT_EQ(c.redis->seeds.size(), 1u);
  EXPECT_EQ(c.redis->seeds[0].second, 7001);
  EXPECT_EQ(c.redis->wait_replicas, 1);
  EXPECT_EQ(c.redis->wait_timeout, std::chrono::milliseconds(250));
  Config plain = MustParse({"--redis", "redis://h:6380"});
  ASSERT_TRUE(plain.redis);
  EXPECT_FALSE(plain.redis->cluster);
  EXPECT_EQ(plain.redis->wait_replicas, 0);
  EXPECT_EQ(plain.redis->wait_timeout, std::chrono::milliseconds(1000));
}

TEST_F(Settings, HelpListsEverySettingAndExits0) {
  Refusal help = MustRefuse({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  Config c;
  for (const auto& row : settings(c))
    EXPECT_NE(help.message.find("--" + row.name), std::string::npos) << row.name;
}

TEST_F(Settings, DocsNameEverySettingWithItsEnvironmentRule) {
  std::ifstream in(std::string(ANTEROOM_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md not found";
  std::stringstream text;
  text << in.rdbuf();
  std::string docs = text.str();
  Config c;
  auto table = settings(c);
  EXPECT_GE(table.size(), 25u);
  for (const auto& row : table) {
    EXPECT_NE(docs.find("`--" + row.name + "`"), std::string::npos)
        << "docs/configuration.md does not mention `--" << row.name << "`";
    EXPECT_EQ(env_name(row.name).rfind("ANTEROOM_", 0), 0u);
  }
  EXPECT_NE(docs.find("ANTEROOM_FOO_BAR"), std::string::npos)
      << "the docs no longer say how a setting's environment name is made";
}

// The package's /etc/anteroom/anteroom.conf lists every setting as `# name = default`, so an
// operator finds each one where the unit reads them; a new setting without its line fails here.
// The secrets are only named there: a value in the file would hide the one the unit takes from
// secrets.env (the file beats the environment), and the file is world-readable.
TEST_F(Settings, ShippedConfigFileListsEverySettingCommentedWithItsDefault) {
  const std::string path = ANTEROOM_SHIPPED_CONFIG;
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << " not found";
  std::vector<std::string> lines;
  std::string all;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    all += line + "\n";
  }
  const std::set<std::string> secrets = {"admin-token", "token-secret"};
  Config c;
  for (const auto& row : settings(c)) {
    if (secrets.count(row.name)) {
      for (const auto& line : lines)
        EXPECT_EQ(line.find(row.name + " ="), std::string::npos)
            << "a secret must not be offered as a setting in " << path << ": " << line;
      EXPECT_NE(all.find(env_name(row.name)), std::string::npos)
          << path << " does not say to set " << env_name(row.name) << " in secrets.env";
      continue;
    }
    const std::string want = "# " + row.name + " =" + (row.fallback.empty() ? "" : " ") +
                             row.fallback;
    EXPECT_EQ(std::count(lines.begin(), lines.end(), want), 1)
        << path << " needs the line `" << want << "` (its name and default, commented out)";
  }
  EXPECT_NE(all.find("secrets.env"), std::string::npos);
  // Shipped as comments only: installing the package changes no default, and the file parses.
  for (const auto& line : lines)
    EXPECT_TRUE(line.empty() || line.front() == '#') << "not a comment: " << line;
  Config shipped = MustParse({"--config", path});
  EXPECT_EQ(shipped.server.port, Config{}.server.port);
  EXPECT_EQ(shipped.tick, Config{}.tick);
}

}  // namespace
}  // namespace anteroom::app
