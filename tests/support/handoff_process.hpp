#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace handoff::test {

/// The `handoff` executable under test, started as a real process with its stderr captured.
class HandoffProcess {
 public:
  /// Starts `handoff ARGS...`; stdout (the access log) is discarded unless captured. A
  /// non-zero `max_files` limits its file descriptors (soft and hard).
  explicit HandoffProcess(std::vector<std::string> args, bool capture_stdout = false,
                          int max_files = 0);
  ~HandoffProcess();
  HandoffProcess(const HandoffProcess&) = delete;
  HandoffProcess& operator=(const HandoffProcess&) = delete;

  /// Waits for the "listening on" line and returns its port; throws if the process exits.
  std::uint16_t wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Sends a signal.
  void signal(int sig);
  /// Waits for the process to exit; returns its exit code (-1 on timeout, 128+N if killed).
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Everything written to stderr so far.
  [[nodiscard]] std::string stderr_text() const;
  /// Waits until the process's output pipes close (after it exits).
  void join_output();
  /// Everything written to stdout so far (when captured).
  [[nodiscard]] std::string stdout_text() const;
  /// CPU time (user + system) used so far, in seconds.
  [[nodiscard]] double cpu_seconds() const;
  /// Peak resident set size in KiB (VmHWM).
  [[nodiscard]] long peak_rss_kib() const;
  /// Current resident set size in KiB (VmRSS).
  [[nodiscard]] long rss_kib() const;
  /// The process id.
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool exited_ = false;
  int stderr_fd_ = -1;
  int stdout_fd_ = -1;
  mutable std::mutex mutex_;
  std::string stderr_;
  std::string stdout_;
  std::thread reader_;
  std::thread stdout_reader_;
};

/// Runs `handoff ARGS...` to completion; returns the exit code and what it wrote to stderr.
std::pair<int, std::string> run_handoff(std::vector<std::string> args);

/// What a finished command printed.
struct CommandResult {
  int code = -1;
  std::string out;
  std::string err;
};

/// Runs `handoff ARGS...` to completion, capturing stdout and stderr.
CommandResult run_command(std::vector<std::string> args);

/// Path of the handoff executable under test.
std::string handoff_binary();

}  // namespace handoff::test
