#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "control/base/background_thread.hpp"
#include "control/health/health_check.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::control {

/// How a service's serving members are checked while they serve: the gate's path, Host and
/// interval, and how many answers in a row change a member's state.
struct HealthWatch {
  bool enabled = false;  ///< active checks run (set by a swap or deploy that ran its gate)
  std::string path = "/up";
  std::string host;  ///< Host header; empty: the member's address
  std::chrono::milliseconds interval{1000};
  unsigned healthy_threshold = 2;    ///< consecutive 2xx that readmit an ejected member
  unsigned unhealthy_threshold = 3;  ///< consecutive failures that eject a member
};

/// How members that passed the gate `gate` are watched while they serve: with the same path,
/// Host, interval and thresholds (not at all when the gate was off).
inline HealthWatch watch_after(const HealthCheckOptions& gate) {
  return HealthWatch{gate.enabled,
                     gate.path,
                     gate.host,
                     gate.interval,
                     gate.healthy_threshold,
                     gate.unhealthy_threshold};
}

/// One service's serving set and how to watch it.
struct WatchedSet {
  std::string service;
  std::shared_ptr<const proxy::UpstreamSet> set;
  HealthWatch watch;
};

/// Gives the monitor the sets to watch (the registry, in production).
using WatchedSets = std::function<std::vector<WatchedSet>()>;

/// Active health checks on the serving members, on a thread of its own: each member of a
/// watched set is probed every interval; `unhealthy_threshold` failures in a row eject it, and
/// an ejected member (whatever ejected it: checks, connect errors, a burst of 5xx, its
/// container's death) is readmitted only after `healthy_threshold` 2xx in a row. Members of a
/// service without checks, ejected by the data plane, are readmitted after a cool-down
/// (`kCoolDown`), as nginx's fail_timeout does: there is no probe that could vouch for them.
class HealthMonitor {
 public:
  /// How long a member of an unchecked service stays ejected.
  static constexpr std::chrono::seconds kCoolDown{10};

  /// Watches what `sets` returns, asked again each round.
  explicit HealthMonitor(WatchedSets sets);
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  /// Starts the thread.
  void start();
  /// Stops it (a probe in progress ends within its timeout) and joins it.
  void stop();

 private:
  // What the monitor knows of one member, keyed by its id (a member that left every set is
  // forgotten).
  struct Record {
    unsigned passes = 0;
    unsigned failures = 0;
    std::chrono::steady_clock::time_point next_probe{};
    std::chrono::steady_clock::time_point ejected_at{};  // when first seen ejected
  };

  void run(const std::stop_token& stop);
  void round(std::chrono::steady_clock::time_point now);
  void judge(proxy::Upstream& member, const HealthWatch& watch, const ProbeResult& result);

  WatchedSets sets_;
  std::map<std::uint64_t, Record> records_;  // touched by the monitor's thread only
  BackgroundThread thread_;                  // last: joined before the other members go
};

}  // namespace handoff::control
