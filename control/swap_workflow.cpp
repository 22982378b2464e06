#include "control/swap_workflow.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/api_error.hpp"
#include "control/deploy_cost.hpp"
#include "control/drain_step.hpp"
#include "proxy/address.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

}  // namespace

Operation prepare_swap(ServiceRegistry& registry, proxy::Server& server, const std::string& service,
                       const std::string& target, const SwapOptions& options) {
  try {
    proxy::resolve_address(target);
  } catch (const std::exception& e) {
    throw ApiError(400, "bad_upstream", e.what());
  }
  std::shared_ptr<void> claim = registry.claim(service);
  // Steps: health gate -> swap -> drain. A failure before the swap changes nothing.
  return [&registry, &server, service, target, options, claim](EventSink& sink) {
    const auto start = Clock::now();
    DeployCost cost(registry.service(service));
    const std::string from = registry.current_upstream(service);
    sink.emit(
        json::object{{"step", "begin"}, {"service", service}, {"from", from}, {"to", target}});

    if (options.health.enabled) {
      sink.emit(json::object{
          {"step", "health_check"}, {"state", "started"}, {"path", options.health.path}});
      const auto gate_start = Clock::now();
      std::string failure = run_health_gate(target, options.health, sink);
      if (!failure.empty()) {
        return with_cost(operation_error(422, "health_check_failed", failure), cost);
      }
      sink.emit(json::object{
          {"step", "health_check"}, {"state", "done"}, {"elapsed_ms", ms_since(gate_start)}});
    }

    std::chrono::nanoseconds switch_time{};
    std::shared_ptr<proxy::Upstream> old;
    try {
      old = registry.swap(service, target, switch_time, {}, [&] { cost.switched(); });
    } catch (const ApiError& e) {
      return with_cost(operation_error(e.status(), e.code(), e.what()), cost);
    }
    const auto switch_us =
        std::chrono::duration_cast<std::chrono::microseconds>(switch_time).count();
    sink.emit(json::object{{"step", "swap"},
                           {"state", "done"},
                           {"from", from},
                           {"to", target},
                           {"switch_us", switch_us}});

    const proxy::DrainResult drained =
        drain_step(registry, server, service, old, options.drain_timeout, sink);
    return OperationResult{200, json::object{{"result", "ok"},
                                             {"service", service},
                                             {"from", from},
                                             {"to", target},
                                             {"switch_us", switch_us},
                                             {"drain_ms", drained.took.count()},
                                             {"closed", drained.closed},
                                             {"elapsed_ms", ms_since(start)},
                                             {"cost", cost.report()}}};
  };
}

Operation prepare_rollback(ServiceRegistry& registry, proxy::Server& server,
                           const std::string& service, const SwapOptions& options) {
  const std::string previous = registry.previous_upstream(service);
  if (previous.empty()) {
    throw ApiError(409, "nothing_to_roll_back",
                   fmt::format("service '{}' has no previous upstream to roll back to", service));
  }
  return prepare_swap(registry, server, service, previous, options);
}

}  // namespace handoff::control
