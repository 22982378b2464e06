#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include "control/base/fd_passing.hpp"
#include "control/upgrade/successor.hpp"

namespace handoff::control {

/// A new handoff binary started to take over from this process: `PATH` with this process's
/// own arguments and `--takeover`. Its stderr comes through a pipe that this process copies to
/// its own stderr, keeping the last lines for an error message, until the successor takes over
/// this process's stderr itself.
class SuccessorProcess final : public Successor {
 public:
  /// Starts `path` (posix_spawn; no descriptor of this process but stdout leaks into it).
  /// Throws std::runtime_error.
  explicit SuccessorProcess(const std::string& path);
  SuccessorProcess(const SuccessorProcess&) = delete;
  SuccessorProcess& operator=(const SuccessorProcess&) = delete;
  /// Reaps the process if it exited; a successor that took over runs on.
  ~SuccessorProcess() override;

  /// Its process id.
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& token() const override { return token_; }
  [[nodiscard]] std::string name() const override;
  void copy_output() override;
  std::optional<std::string> ended() override;
  /// Kills it and waits for it.
  void abandon() override;
  std::string last_lines() override;
  /// Its exit status when it has exited (as a shell shows it: 128+N for signal N).
  std::optional<int> exited();

 private:
  void copy_chunk();

  pid_t pid_ = -1;
  std::string token_;
  OwnedFd output_;
  std::string partial_;            // a line not ended yet
  std::deque<std::string> lines_;  // the last few whole lines
  std::optional<int> status_;
};

/// A fresh random token for a successor (see SuccessorId).
std::string new_takeover_token();

/// The arguments this process was started with, after the program name (from /proc).
std::vector<std::string> own_arguments();

}  // namespace handoff::control
