#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace anteroom::testing {
namespace {

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

ExitStatus Decode(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) {
    s.exited = true;
    s.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
  }
  return s;
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (exited) return "exited with status " + std::to_string(code);
  return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

Process::Process(Options options) : options_(std::move(options)) {
  int out[2], err[2], exec_err[2], in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(exec_err, O_CLOEXEC) != 0 || ::pipe2(wake_pipe_, O_CLOEXEC) != 0 ||
      (options_.pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0)) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }

  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<std::string> argv_store;
  argv_store.push_back(options_.path);
  argv_store.insert(argv_store.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
  env_store.insert(env_store.end(), options_.extra_env.begin(), options_.extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    if (in[0] >= 0) {
      ::dup2(in[0], STDIN_FILENO);
    } else {
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    }
    ::execve(argv[0], argv.data(), envp.data());
    int e = errno;
    [[maybe_unused]] auto n = ::write(exec_err[1], &e, sizeof e);
    ::_exit(127);
  }

  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_err[1]);
  if (in[0] >= 0) ::close(in[0]);
  stdin_fd_ = in[1];
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_err[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_err[0]);
  out_.fd = out[0];
  err_.fd = err[0];
  if (n > 0) {
    int wstatus = 0;
    ::waitpid(pid_, &wstatus, 0);
    status_ = Decode(wstatus);
    CloseFd(out_.fd);
    CloseFd(err_.fd);
    CloseFd(wake_pipe_[0]);
    CloseFd(wake_pipe_[1]);
    CloseFd(stdin_fd_);
    throw std::runtime_error("cannot execute " + options_.path + ": " + std::strerror(exec_errno));
  }
  reader_ = std::thread([this] { ReaderLoop(); });
}

Process::~Process() {
  CloseStdin();
  if (Running()) {
    Signal(SIGKILL);
    WaitExit(DeadlineIn(std::chrono::seconds(10)));
  }
  if (reader_.joinable()) {
    char c = 'x';
    [[maybe_unused]] auto n = ::write(wake_pipe_[1], &c, 1);
    reader_.join();
  }
  CloseFd(out_.fd);
  CloseFd(err_.fd);
  CloseFd(wake_pipe_[0]);
  CloseFd(wake_pipe_[1]);
}

void Process::Append(Stream& s, const char* p, std::size_t n) {
  s.data.append(p, n);
  if (s.data.size() > options_.max_captured_bytes) {
    std::size_t drop = s.data.size() - options_.max_captured_bytes / 2;
    s.data.erase(0, drop);
    s.dropped += drop;
  }
}

void Process::ReaderLoop() {
  char buf[16384];
  while (true) {
    pollfd fds[3];
    int nfds = 0;
    {
      std::lock_guard lock(mu_);
      if (out_.eof && err_.eof) break;
    }
    fds[nfds++] = {wake_pipe_[0], POLLIN, 0};
    int out_idx = -1, err_idx = -1;
    {
      std::lock_guard lock(mu_);
      if (!out_.eof) {
        out_idx = nfds;
        fds[nfds++] = {out_.fd, POLLIN, 0};
      }
      if (!err_.eof) {
        err_idx = nfds;
        fds[nfds++] = {err_.fd, POLLIN, 0};
      }
    }
    int r = ::poll(fds, nfds, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) {
      // Stop requested: drain what is already buffered without blocking, then leave.
      for (Stream* s : {&out_, &err_}) {
        if (s->eof) continue;
        ::fcntl(s->fd, F_SETFL, ::fcntl(s->fd, F_GETFL) | O_NONBLOCK);
        ssize_t n;
        while ((n = ::read(s->fd, buf, sizeof buf)) > 0) {
          std::lock_guard lock(mu_);
          Append(*s, buf, static_cast<std::size_t>(n));
        }
      }
      std::lock_guard lock(mu_);
      out_.eof = err_.eof = true;
      cv_.notify_all();
      break;
    }
    for (auto [idx, s] : {std::pair{out_idx, &out_}, std::pair{err_idx, &err_}}) {
      if (idx < 0 || fds[idx].revents == 0) continue;
      ssize_t n = ::read(s->fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mu_);
      if (n <= 0) {
        s->eof = true;
      } else {
        Append(*s, buf, static_cast<std::size_t>(n));
      }
      cv_.notify_all();
    }
  }
}

std::optional<std::vector<std::string>> Process::WaitForLine(const std::regex& re,
                                                             Deadline deadline) {
  std::unique_lock lock(mu_);
  while (true) {
    // Scan complete lines not yet scanned.
    std::size_t start = stdout_scan_pos_ < out_.dropped ? 0 : stdout_scan_pos_ - out_.dropped;
    while (true) {
      std::size_t nl = out_.data.find('\n', start);
      if (nl == std::string::npos) break;
      std::string line = out_.data.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      start = nl + 1;
      stdout_scan_pos_ = out_.dropped + start;
      std::smatch m;
      if (std::regex_search(line, m, re)) {
        std::vector<std::string> groups;
        for (const auto& g : m) groups.push_back(g.str());
        return groups;
      }
    }
    if (out_.eof) return std::nullopt;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && Clock::now() >= deadline) {
      return std::nullopt;
    }
  }
}

bool Process::WriteStdin(std::string_view bytes) {
  std::lock_guard lock(stdin_mu_);
  if (stdin_fd_ < 0) return false;
  // A child that is gone would raise SIGPIPE: block it on this thread, and swallow the one a
  // failed write left pending, so the test process survives and gets EPIPE instead.
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  bool ok = true;
  while (!bytes.empty()) {
    ssize_t n = ::write(stdin_fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  if (!ok) {
    timespec zero{0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

void Process::CloseStdin() {
  std::lock_guard lock(stdin_mu_);
  CloseFd(stdin_fd_);
}

void Process::Signal(int sig) {
  if (sig == SIGTERM) terminated_ = true;
  if (!status_ && pid_ > 0) ::kill(pid_, sig);
}

void Process::Kill() {
  killed_on_purpose_ = true;
  Signal(SIGKILL);
}

std::optional<ExitStatus> Process::WaitExit(Deadline deadline) {
  while (!status_) {
    int wstatus = 0;
    pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
      status_ = Decode(wstatus);
      break;
    }
    if (r < 0 && errno != EINTR) {
      status_ = ExitStatus{};  // not our child any more; treat as gone
      break;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The child is gone, but the reader thread may not have drained its last output yet; wait
  // for end-of-file so Stdout()/Stderr() are complete once this returns.
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, std::max(deadline, DeadlineIn(std::chrono::seconds(2))),
                 [this] { return out_.eof && err_.eof; });
  return status_;
}

bool Process::Running() {
  if (status_) return false;
  return !WaitExit(Clock::now()).has_value();
}

std::string Process::Stdout() const {
  std::lock_guard lock(mu_);
  return out_.data;
}

std::string Process::Stderr() const {
  std::lock_guard lock(mu_);
  return err_.data;
}

std::string Process::StderrTail(std::size_t max_lines) const {
  std::string all = Stderr();
  std::size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;
  for (std::size_t lines = 0; pos > 0; --pos) {
    if (all[pos - 1] == '\n' && ++lines == max_lines) break;
  }
  return all.substr(pos);
}

std::string SanitizerFindings(const Process& p) {
  std::istringstream in(p.Stderr());
  std::string line, found;
  while (std::getline(in, line)) {
    for (const char* mark : {"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                             "ThreadSanitizer", "runtime error:"}) {
      if (line.find(mark) != std::string::npos) {
        found += line + "\n";
        break;
      }
    }
  }
  return found;
}

}  // namespace anteroom::testing
