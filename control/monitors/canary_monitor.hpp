#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "control/base/background_thread.hpp"
#include "control/protocol/canary_answers.hpp"
#include "control/protocol/event_sink.hpp"
#include "control/registry/service_registry.hpp"

namespace handoff::control {

/// What must happen to a canary now.
struct CanaryVerdict {
  std::string service;
  bool promote = false;  ///< false: roll it back
  std::string reason;    ///< for the log, e.g. "5xx rate 5.2% (26 of 500) over 60 s"
};

/// Judges running canaries from samples of their members' outcomes: a 5xx share over the
/// policy's window above its budget (once the window holds its minimum of requests) rolls a
/// canary back; a bake time passed without that promotes it. Pure: the caller gives the time.
class CanaryJudge {
 public:
  using Clock = std::chrono::steady_clock;

  /// Samples every canary in `canaries` and returns the verdicts due; a canary not seen
  /// before (or with other members) starts a new window.
  std::vector<CanaryVerdict> round(const std::vector<CanaryView>& canaries, Clock::time_point now,
                                   std::int64_t unix_now_ms);

 private:
  struct Sample {
    Clock::time_point at;
    std::uint64_t requests = 0;  // finished on the canary's members, answered or failed
    std::uint64_t errors = 0;    // of them, 5xx answers and failed connects
  };
  struct Track {
    // Held, not only pointed at: a later canary's set can then never reuse its address and
    // inherit its samples.
    std::shared_ptr<const proxy::UpstreamSet> set;
    std::deque<Sample> samples;  // oldest first; the first is at or before the window start
  };

  std::optional<CanaryVerdict> judge(const CanaryView& canary, Track& track, Clock::time_point now,
                                     std::int64_t unix_now_ms);

  std::map<std::string, Track> tracks_;
};

/// A thread that runs a CanaryJudge over the registry's canaries four times a second and hands
/// each verdict to `act` (which rolls back or promotes through the usual workflows).
class CanaryMonitor {
 public:
  using Act = std::function<void(const CanaryVerdict&, const std::stop_token&)>;

  /// `canaries` is asked each round; `act` runs on the monitor's thread.
  CanaryMonitor(std::function<std::vector<CanaryView>()> canaries, Act act);
  CanaryMonitor(const CanaryMonitor&) = delete;
  CanaryMonitor& operator=(const CanaryMonitor&) = delete;

  /// Starts the thread.
  void start();
  /// Stops it (an operation it runs is asked to stop) and joins it.
  void stop();

 private:
  void run(const std::stop_token& stop);

  std::function<std::vector<CanaryView>()> canaries_;
  Act act_;
  CanaryJudge judge_;
  BackgroundThread thread_;  // last: joined before the other members go
};

/// Runs a workflow the proxy starts by itself (no client watches it): its progress lines go to
/// stderr after `title`, and a stop request ends its waits. Returns whether it succeeded.
bool run_unattended(const Operation& operation, const std::string& title,
                    const std::stop_token& stop);

}  // namespace handoff::control
