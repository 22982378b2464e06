#include "control/workflows/drain_step.hpp"

#include "control/protocol/progress_events.hpp"

namespace handoff::control {

proxy::DrainResult drain_step(ServiceClaim& claim, proxy::Server& server,
                              const std::vector<std::shared_ptr<proxy::Upstream>>& old,
                              proxy::Millis timeout, EventSink& sink) {
  if (old.empty()) {
    return {};
  }
  const proxy::UpstreamSet leaving(old);
  emit_event(sink, StepState::started,
             DrainEvent{.upstream = leaving.addresses(),
                        .in_flight = leaving.in_flight(),
                        .timeout_ms = timeout.count()});
  const proxy::DrainResult drained =
      server.drain(old, timeout, [&](std::int64_t in_flight, proxy::Millis elapsed) {
        emit_event(sink, StepState::running,
                   DrainEvent{.in_flight = in_flight, .elapsed_ms = elapsed.count()});
      });
  claim.drained(old, drained.took);
  emit_event(sink, StepState::done,
             DrainEvent{.elapsed_ms = drained.took.count(), .closed = drained.closed});
  return drained;
}

}  // namespace handoff::control
