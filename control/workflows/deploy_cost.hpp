#pragma once

#include <chrono>
#include <memory>

#include "control/protocol/event_sink.hpp"
#include "control/protocol/progress_events.hpp"
#include "proxy/routing/service.hpp"
#include "proxy/upstream/latency_window.hpp"
#include "proxy/upstream/upstream.hpp"

namespace handoff::control {

/// What a deploy, swap or rollback cost the service's traffic: the requests the old and the
/// new version answered while it ran, how many failed and why, and request durations in the
/// minute before the switch and in the time after it. Created when the workflow begins.
class DeployCost {
 public:
  using Clock = proxy::LatencyWindow::Clock;
  /// How far back the "before" durations reach.
  static constexpr std::chrono::seconds kBeforeWindow{60};

  /// Starts counting from now, on the service's current upstream.
  explicit DeployCost(std::shared_ptr<proxy::Service> service);

  /// Records the switch: the upstream current when counting began stopped taking requests and
  /// the service's current upstream started. Call right after the swap (the service is claimed
  /// by the workflow, so no other swap comes between).
  void switched();

  /// The report so far, for the workflow's result.
  [[nodiscard]] CostReport report() const;

 private:
  struct Version {
    std::shared_ptr<const proxy::UpstreamSet> set;
    proxy::OutcomeCounts baseline{};  // what it had counted before the deploy began
  };

  static VersionOutcome version_report(const Version& v);
  static LatencyWindow latency_report(const proxy::DurationHistogram& h,
                                      std::chrono::milliseconds window);

  std::shared_ptr<proxy::Service> service_;
  Clock::time_point begun_;
  Version old_;
  Version new_;
  Clock::time_point switched_{};            // zero until the switch
  proxy::DurationHistogram before_;         // the minute before the switch
  proxy::DurationHistogram switch_second_;  // the switch's second, up to the switch
};

/// Adds the cost report to a workflow's result (a failed one costs traffic too).
OperationResult with_cost(OperationResult result, const DeployCost& cost);

}  // namespace handoff::control
