// A child process for end-to-end tests: started with fork/exec, its stdout and stderr captured
// through pipes by one reader thread so the child never blocks on a full pipe.
//
// Lifetime: the destructor sends SIGKILL to a child that is still running and reaps it, so a
// failing test never leaves a server behind. The child also gets SIGKILL if the thread that
// started it dies (PR_SET_PDEATHSIG), which covers a crashing test binary.
// Thread safety: all member functions may be called from any thread; output accessors return
// copies.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace anteroom::testing {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// The default patience for a condition that should hold "soon" in a test. Generous so a slow,
// loaded CI machine does not make tests flaky; a passing test never waits this long.
inline constexpr std::chrono::seconds kPatience{10};

inline Deadline DeadlineIn(Clock::duration d) { return Clock::now() + d; }

// How a child ended: either exited with a code or was killed by a signal.
struct ExitStatus {
  bool exited = false;  // true: `code` is valid; false: `signal` is valid
  int code = -1;
  int signal = 0;

  std::string Describe() const;
};

class Process {
 public:
  struct Options {
    std::string path;                          // executable; not searched in PATH
    std::vector<std::string> args;             // argv[1..]
    std::vector<std::string> extra_env;        // "NAME=value", added to the test's environment
    std::size_t max_captured_bytes = 8 << 20;  // per stream; the oldest output is dropped
    bool pipe_stdin = false;  // true: WriteStdin() feeds the child; false: stdin is /dev/null
  };

  // Starts the child. Throws std::runtime_error if it cannot be spawned (e.g. no such file).
  explicit Process(Options options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& path() const { return options_.path; }

  // Waits until a complete stdout line matches `re` (std::regex_search); returns the match
  // groups (group 0 = whole match). Lines seen by earlier calls are not matched again.
  // Returns nullopt at the deadline or when stdout closed without a matching line.
  std::optional<std::vector<std::string>> WaitForLine(const std::regex& re, Deadline deadline);

  // Sends `sig` to the child if it has not been reaped yet.
  void Signal(int sig);
  // True once Signal(SIGTERM) was called: a second SIGTERM may find the child past its handler,
  // tearing down, and end it by the signal's default action.
  bool terminated() const { return terminated_; }
  // SIGKILL on purpose (a crash test): the child's end by a signal is then expected, and the
  // checks run when a test's process ends (AnteroomProcess) do not count it as a failure.
  void Kill();
  // True once Kill() was called.
  bool killed_on_purpose() const { return killed_on_purpose_; }

  // Writes `bytes` to the child's stdin (Options::pipe_stdin). False if there is no such pipe
  // or the child stopped reading (closed its end). Never raises SIGPIPE in the test process.
  bool WriteStdin(std::string_view bytes);
  // Closes the child's stdin (it sees end of input).
  void CloseStdin();

  // Waits for the child to exit and reaps it. Returns nullopt if still running at the deadline.
  // Once reaped, every later call returns the same status at once.
  std::optional<ExitStatus> WaitExit(Deadline deadline);

  // True while the child has not been reaped (it may be a zombie).
  bool Running();

  std::string Stdout() const;
  std::string Stderr() const;
  // The last `max_lines` lines of stderr, for failure messages.
  std::string StderrTail(std::size_t max_lines = 60) const;

 private:
  struct Stream {
    int fd = -1;
    std::string data;
    std::size_t dropped = 0;  // bytes dropped from the front to honour max_captured_bytes
    bool eof = false;
  };

  void ReaderLoop();
  void Append(Stream& s, const char* p, std::size_t n);

  Options options_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  std::atomic<bool> killed_on_purpose_{false};
  std::atomic<bool> terminated_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Stream out_;
  Stream err_;
  std::size_t stdout_scan_pos_ = 0;  // absolute offset of the first line not yet matched
  int wake_pipe_[2] = {-1, -1};      // written by the destructor to stop the reader thread
  std::mutex stdin_mu_;
  int stdin_fd_ = -1;                // write end of the child's stdin (pipe_stdin)
  std::thread reader_;
};

// Lines of `p`'s stderr that report a finding of AddressSanitizer, LeakSanitizer,
// UndefinedBehaviorSanitizer ("runtime error:") or ThreadSanitizer; "" if none.
std::string SanitizerFindings(const Process& p);

// Polls `condition` every `interval` until it returns true or the deadline passes. Returns the
// last value of `condition`. For conditions with no event to wait on (e.g. a stats counter).
template <class Pred>
bool PollUntil(Pred&& condition, Deadline deadline,
               std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  while (true) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace anteroom::testing
