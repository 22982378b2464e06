#include "control/workflows/swap_workflow.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "control/base/domain_error.hpp"
#include "control/protocol/progress_events.hpp"
#include "control/workflows/deploy_cost.hpp"
#include "control/workflows/drain_step.hpp"
#include "proxy/address.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

}  // namespace

namespace {

/// One run of the swap steps: health gate, swap, drain. A failure before the swap changes
/// nothing.
class UpstreamSwitch {
 public:
  UpstreamSwitch(ServiceRegistry& registry, ServiceClaim& claim, proxy::Server& server,
                 std::vector<std::string> targets, SwapOptions options, EventSink& sink)
      : registry_(registry),
        claim_(claim),
        server_(server),
        service_(claim.service()),
        targets_(std::move(targets)),
        target_(proxy::join_addresses(targets_)),
        options_(std::move(options)),
        sink_(sink),
        cost_(registry_.view(service_).service),
        from_(registry_.view(service_).upstream) {}

  /// The swap, one line per step (see Step).
  OperationResult run() {
    emit_begin(sink_, BeginEvent{.service = service_, .from = from_, .to = target_});
    if (std::string failure = pass_health_gate(); !failure.empty()) {
      return with_cost(operation_error(ErrorKind::check_failed, "health_check_failed", failure),
                       cost_);
    }
    try {
      switch_over();
    } catch (const DomainError& e) {
      return with_cost(operation_error(e.kind(), e.code(), e.what()), cost_);
    }
    drained_ = drain_step(claim_, server_, old_, options_.drain_timeout, sink_);
    return operation_done(WorkflowResult{.service = service_,
                                         .from = from_,
                                         .to = target_,
                                         .switch_us = switch_us_,
                                         .drain_ms = drained_.took.count(),
                                         .closed = drained_.closed,
                                         .elapsed_ms = ms_since(start_),
                                         .cost = cost_.report()});
  }

 private:
  // Empty when every target is healthy (or the gate is off), else why not: all or nothing.
  // The targets are gated side by side, so several take as long as one.
  std::string pass_health_gate() {
    if (!options_.health.enabled) {
      return {};
    }
    const auto t = Clock::now();
    emit_event(sink_, StepState::started, HealthCheckEvent{.path = options_.health.path});
    std::string failure = run_health_gates(targets_, options_.health, sink_);
    if (failure.empty()) {
      emit_event(sink_, StepState::done, HealthCheckEvent{.elapsed_ms = ms_since(t)});
    }
    return failure;
  }

  void switch_over() {
    if (options_.canary_share) {
      claim_.start_canary({targets_}, *options_.canary_share, options_.canary_policy);
      emit_event(sink_, StepState::done,
                 SwapEvent{.from = from_,
                           .to = target_,
                           .canary_percent = static_cast<double>(*options_.canary_share) / 100.0});
      return;
    }
    const Switched done = claim_.switch_to({targets_}, {.watch = watch_after(options_.health)},
                                           [this] { cost_.switched(); });
    old_ = done.retired;
    switch_us_ = std::chrono::duration_cast<std::chrono::microseconds>(done.took).count();
    emit_event(sink_, StepState::done,
               SwapEvent{.from = from_, .to = target_, .switch_us = switch_us_});
  }

  ServiceRegistry& registry_;  // what the steps read; they change the service through claim_
  ServiceClaim& claim_;
  proxy::Server& server_;
  const std::string service_;
  std::vector<std::string> targets_;
  std::string target_;  // the targets, comma-separated
  SwapOptions options_;
  EventSink& sink_;
  const Clock::time_point start_ = Clock::now();
  DeployCost cost_;                                    // counted from the start
  std::string from_;                                   // the upstream before the swap
  std::vector<std::shared_ptr<proxy::Upstream>> old_;  // the members the swap retired
  std::int64_t switch_us_ = 0;
  proxy::DrainResult drained_;
};

}  // namespace

Operation prepare_swap(ServiceRegistry& registry, proxy::Server& server, const std::string& service,
                       const std::vector<std::string>& targets, const SwapOptions& options) {
  for (const auto& target : targets) {
    try {
      proxy::resolve_address(target);
    } catch (const std::exception& e) {
      throw DomainError(ErrorKind::invalid, "bad_upstream", e.what());
    }
    if (std::count(targets.begin(), targets.end(), target) > 1) {
      throw DomainError(ErrorKind::invalid, "bad_upstream",
                        fmt::format("upstream '{}' is listed twice", target));
    }
  }
  // A swap would change the serving set under a canary; a second canary needs the first gone.
  registry.refuse_while_canary(service);
  auto claim = std::make_shared<ServiceClaim>(registry.claim(service));
  return [&registry, &server, targets, options, claim](EventSink& sink) {
    return UpstreamSwitch(registry, *claim, server, targets, options, sink).run();
  };
}

Operation prepare_rollback(ServiceRegistry& registry, proxy::Server& server,
                           const std::string& service, const SwapOptions& options) {
  const std::vector<std::string> previous = registry.view(service).serving.previous;
  if (previous.empty()) {
    throw DomainError(
        ErrorKind::conflict, "nothing_to_roll_back",
        fmt::format("service '{}' has no previous upstream to roll back to", service));
  }
  return prepare_swap(registry, server, service, previous, options);
}

}  // namespace handoff::control
