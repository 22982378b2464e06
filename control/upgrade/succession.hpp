#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "control/registry/service_registry.hpp"
#include "control/upgrade/takeover.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

/// How a successor's attempt to take over ended.
struct SuccessionOutcome {
  bool took_over = false;
  std::string reason;  ///< why not, when it did not
};

/// The running process's part in its own upgrade: it answers the takeover listener (freeze
/// the state, lend the listening sockets), records how each successor fared (for `handoff
/// upgrade`), and says when to step down. Thread-safe.
class Succession {
 public:
  /// `step_down` is called once, from the takeover listener's thread, when a successor accepts.
  Succession(ServiceRegistry& registry, proxy::Server& server, std::function<void()> step_down);

  /// What the takeover listener calls.
  TakeoverListener::Callbacks callbacks();
  /// How the successor started with `token` fared, waiting until `until` for it to finish its
  /// attempt.
  std::optional<SuccessionOutcome> outcome(const std::string& token,
                                           std::chrono::steady_clock::time_point until);
  /// Whether a successor took over.
  [[nodiscard]] bool took_over() const;
  /// The process id of the successor that took over (in its own pid namespace; 0: none).
  [[nodiscard]] pid_t successor() const;
  /// How long requests in flight get once this process steps down (default: its
  /// --shutdown-timeout); `handoff upgrade --drain-timeout` sets it.
  void set_drain_timeout(std::chrono::milliseconds timeout);
  /// See set_drain_timeout.
  [[nodiscard]] std::chrono::milliseconds drain_timeout() const;
  /// The --metrics-listen socket, handed over with the others (-1: none).
  void set_metrics_socket(int fd) { metrics_ = fd; }
  /// The container this process runs in ("" when none).
  [[nodiscard]] const std::string& container() const { return container_; }

 private:
  void record(const SuccessorId& who, SuccessionOutcome outcome);

  ServiceRegistry& registry_;
  proxy::Server& server_;
  std::function<void()> step_down_;
  const std::string container_;
  int metrics_ = -1;  // set before the takeover listener starts
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, SuccessionOutcome> outcomes_;  // by token
  pid_t successor_ = 0;
  bool took_over_ = false;
  std::optional<std::chrono::milliseconds> drain_timeout_;
};

}  // namespace handoff::control
