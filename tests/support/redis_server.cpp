#include "support/redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace anteroom::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// How often readiness is polled while waiting (the wait itself is bounded by a deadline).
constexpr auto kPollInterval = std::chrono::milliseconds(5);

std::string find_binary() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    fs::path p = fs::path(dir) / "redis-server";
    if (!dir.empty() && ::access(p.c_str(), X_OK) == 0) return p.string();
  }
  throw std::runtime_error("redis-server not found in PATH");
}

// A port the kernel just handed out, so very likely free; start() retries if it was not.

// Sends one inline command to 127.0.0.1:port and returns what arrives in one read ("" if
// nothing answers). Replies used here (PONG, INFO server) are small enough for one segment.
std::string query(int port, std::string_view command) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string line = std::string(command) + "\r\n";
    if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
      char buf[16384];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) out.assign(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

// Ready: the server on the port is OUR child (not another test's server that took the port
// first) and it answers PING with PONG (not -LOADING while it reads its AOF).
bool ready(int port, pid_t pid) {
  if (query(port, "INFO server").find("process_id:" + std::to_string(pid) + "\r\n") ==
      std::string::npos)
    return false;
  return query(port, "PING").starts_with("+PONG");
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot pick a free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::RedisServer(Options options) : options_(std::move(options)), binary_(find_binary()) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/anteroom-redis-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  std::string why;
  // Another process may grab the port between free_port() and redis' bind: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    if (start(why)) return;
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
  throw std::runtime_error("cannot start redis-server: " + why);
}

RedisServer::~RedisServer() {
  if (pid_ > 0) kill_and_reap(pid_);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void RedisServer::kill9() {
  if (pid_ <= 0) return;
  kill_and_reap(pid_);
  pid_ = 0;
}

void RedisServer::restart() {
  kill9();
  std::string why;
  if (!start(why)) throw std::runtime_error("cannot restart redis-server: " + why);
}

bool RedisServer::start(std::string& why) {
  std::vector<std::string> args{binary_,
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                options_.appendonly ? "yes" : "no",
                                "--appendfsync",
                                "always",
                                "--dir",
                                dir_,
                                "--logfile",
                                dir_ + "/redis.log",
                                "--daemonize",
                                "no"};
  if (options_.cluster) {
    for (const char* a : {"--cluster-enabled", "yes", "--cluster-config-file"})
      args.emplace_back(a);
    args.push_back(dir_ + "/nodes.conf");
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    why = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;

  const auto deadline = Clock::now() + options_.start_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      why = "redis-server exited at startup; log:\n" + log_tail();
      return false;
    }
    if (ready(port_, pid_)) return !options_.cluster || form_cluster(why);
    std::this_thread::sleep_for(kPollInterval);
  }
  kill_and_reap(pid_);
  pid_ = 0;
  why = "redis-server did not answer PING in time; log:\n" + log_tail();
  return false;
}

bool RedisServer::form_cluster(std::string& why) {
  // ADDSLOTSRANGE fails with "already busy" after a restart (nodes.conf kept them): fine.
  const std::string added = query(port_, "CLUSTER ADDSLOTSRANGE 0 16383");
  const auto deadline = Clock::now() + options_.start_timeout;
  while (Clock::now() < deadline) {
    if (query(port_, "CLUSTER INFO").find("cluster_state:ok") != std::string::npos) return true;
    std::this_thread::sleep_for(kPollInterval);
  }
  kill_and_reap(pid_);
  pid_ = 0;
  why = "one-node cluster not ok in time (ADDSLOTSRANGE said: " + added + "); log:\n" + log_tail();
  return false;
}

std::string RedisServer::log_tail() const {
  std::ifstream in(dir_ + "/redis.log");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace anteroom::testing
