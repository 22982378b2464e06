#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/protocol/event_sink.hpp"
#include "control/protocol/wire_record.hpp"
#include "control/protocol/workflow_step.hpp"

namespace handoff::control {

// The progress events and results of the long operations (swap, deploy, scale, rollback,
// promote, upgrade), as the structs the workflows fill and the CLI prints; each is a wire
// record (see wire_record.hpp). A field that is not set prints as "?", never as a made-up 0.

/// The first event: what is switched to what.
struct BeginEvent {
  static constexpr Step kStep = Step::begin;
  std::optional<std::string> service = {};
  std::optional<std::string> from = {};
  std::optional<std::string> to = {};

  /// Visits each field (see the top of this file).
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("service", self.service);
    f("from", self.from);
    f("to", self.to);
  }
};

/// The image is pulled: first its name, then layers and bytes while it comes.
struct PullEvent {
  static constexpr Step kStep = Step::pull;
  std::optional<std::string> image = {};
  std::optional<std::int64_t> layers = {};
  std::optional<std::int64_t> layers_done = {};
  std::optional<std::int64_t> bytes = {};
  std::optional<std::int64_t> total_bytes = {};
  std::optional<std::int64_t> elapsed_ms = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("image", self.image);
    f("layers", self.layers);
    f("layers_done", self.layers_done);
    f("bytes", self.bytes);
    f("total_bytes", self.total_bytes);
    f("elapsed_ms", self.elapsed_ms);
  }
};

/// A container is created (`id` once it is).
struct CreateEvent {
  static constexpr Step kStep = Step::create;
  std::optional<std::string> name = {};
  std::optional<std::string> image = {};
  std::optional<std::string> id = {};  ///< its first 12 characters
  std::optional<std::int64_t> elapsed_ms = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("name", self.name);
    f("image", self.image);
    f("id", self.id);
    f("elapsed_ms", self.elapsed_ms);
  }
};

/// A container (or a successor process) is started and runs.
struct StartEvent {
  static constexpr Step kStep = Step::start;
  std::optional<std::string> name = {};
  std::optional<std::int64_t> elapsed_ms = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("name", self.name);
    f("elapsed_ms", self.elapsed_ms);
  }
};

/// Where a new container listens.
struct AddressEvent {
  static constexpr Step kStep = Step::address;
  std::optional<std::string> name = {};
  std::optional<std::string> address = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("name", self.name);
    f("address", self.address);
  }
};

/// The health gate: started on `address`/`path`; running with the engine's verdict
/// (`engine_health`) or one HTTP attempt's answer (`status` or `error`); done.
struct HealthCheckEvent {
  static constexpr Step kStep = Step::health_check;
  std::optional<std::string> address = {};
  std::optional<std::string> path = {};
  std::optional<std::string> upstream = {};  ///< the member one attempt checked
  std::optional<std::string> name = {};      ///< the container the engine judges
  std::optional<std::string> engine_health = {};
  std::optional<std::int64_t> attempt = {};
  std::optional<std::int64_t> status = {};
  std::optional<std::string> error = {};
  std::optional<std::int64_t> healthy = {};  ///< consecutive 2xx so far
  std::optional<std::int64_t> needed = {};
  std::optional<std::int64_t> elapsed_ms = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("address", self.address);
    f("path", self.path);
    f("upstream", self.upstream);
    f("name", self.name);
    f("engine_health", self.engine_health);
    f("attempt", self.attempt);
    f("status", self.status);
    f("error", self.error);
    f("healthy", self.healthy);
    f("needed", self.needed);
    f("elapsed_ms", self.elapsed_ms);
  }
};

/// The switch: a plain one (`switch_us`), a canary joining (`canary_percent`), or a canary
/// removed (`reason`).
struct SwapEvent {
  static constexpr Step kStep = Step::swap;
  std::optional<std::string> from = {};
  std::optional<std::string> to = {};
  std::optional<std::int64_t> switch_us = {};
  std::optional<double> canary_percent = {};
  std::optional<std::string> reason = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("from", self.from);
    f("to", self.to);
    f("switch_us", self.switch_us);
    f("canary_percent", self.canary_percent);
    f("reason", self.reason);
  }
};

/// The drain: started with what is in flight on `upstream`, running while it falls, done.
struct DrainEvent {
  static constexpr Step kStep = Step::drain;
  std::optional<std::string> upstream = {};
  std::optional<std::int64_t> in_flight = {};
  std::optional<std::int64_t> timeout_ms = {};
  std::optional<std::int64_t> elapsed_ms = {};
  std::optional<std::int64_t> closed = {};  ///< cut at the timeout

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("upstream", self.upstream);
    f("in_flight", self.in_flight);
    f("timeout_ms", self.timeout_ms);
    f("elapsed_ms", self.elapsed_ms);
    f("closed", self.closed);
  }
};

/// The old containers are stopped (`name` while each is), and those beyond --keep removed.
struct RetireEvent {
  static constexpr Step kStep = Step::retire;
  std::optional<std::string> name = {};
  std::optional<std::string> message = {};  ///< a warning
  std::optional<std::string> stopped = {};  ///< the first of `stopped_all` ("" when none)
  std::optional<std::vector<std::string>> stopped_all = {};
  std::optional<std::vector<std::string>> removed = {};
  std::optional<std::int64_t> elapsed_ms = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("name", self.name);
    f("message", self.message);
    f("stopped", self.stopped);
    f("stopped_all", self.stopped_all);
    f("removed", self.removed);
    f("elapsed_ms", self.elapsed_ms);
  }
};

/// A failed deploy's new container is removed, or a kept one stopped again.
struct CleanupEvent {
  static constexpr Step kStep = Step::cleanup;
  std::optional<std::string> removed = {};
  std::optional<std::string> stopped = {};
  std::optional<std::string> message = {};  ///< a warning

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("removed", self.removed);
    f("stopped", self.stopped);
    f("message", self.message);
  }
};

/// A new handoff process takes over: waiting for a workflow (`waiting_for`), then done.
struct HandoverEvent {
  static constexpr Step kStep = Step::handover;
  std::optional<std::string> successor = {};
  std::optional<std::string> waiting_for = {};
  std::optional<std::int64_t> elapsed_ms = {};
  std::optional<std::int64_t> drain_timeout_ms = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("successor", self.successor);
    f("waiting_for", self.waiting_for);
    f("elapsed_ms", self.elapsed_ms);
    f("drain_timeout_ms", self.drain_timeout_ms);
  }
};

/// A followed container's output (`handoff logs --follow`), and the switch to a new container.
struct LogEvent {
  std::optional<std::string> log = {};        ///< what the container wrote
  std::optional<std::string> following = {};  ///< the service's new container, now followed

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("log", self.log);
    f("following", self.following);
  }
};

/// One side of a switch in the cost report: its requests and why any failed.
struct VersionOutcome {
  std::optional<std::string> upstream = {};
  std::optional<std::int64_t> answered = {};
  std::optional<std::int64_t> failed = {};
  std::optional<std::int64_t> upstream_5xx = {};
  std::optional<std::int64_t> proxy_5xx = {};
  std::optional<std::int64_t> connect_errors = {};
  std::optional<std::int64_t> cut_at_drain = {};
  std::optional<std::int64_t> incomplete = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("upstream", self.upstream);
    f("answered", self.answered);
    f("failed", self.failed);
    f("upstream_5xx", self.upstream_5xx);
    f("proxy_5xx", self.proxy_5xx);
    f("connect_errors", self.connect_errors);
    f("cut_at_drain", self.cut_at_drain);
    f("incomplete", self.incomplete);
  }
};

/// Request durations over a window of the cost report.
struct LatencyWindow {
  std::optional<std::int64_t> window_ms = {};
  std::optional<std::int64_t> requests = {};
  std::optional<double> p50_ms = {};
  std::optional<double> p99_ms = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("window_ms", self.window_ms);
    f("requests", self.requests);
    f("p50_ms", self.p50_ms);
    f("p99_ms", self.p99_ms);
  }
};

/// The minute before the switch and the time after it; or, with no switch, the attempt's.
struct LatencyReport {
  std::optional<LatencyWindow> before = {};
  std::optional<LatencyWindow> after = {};
  std::optional<LatencyWindow> during = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("before", self.before);
    f("after", self.after);
    f("during", self.during);
  }
};

/// What a workflow cost the traffic.
struct CostReport {
  std::optional<std::int64_t> window_ms = {};
  std::optional<VersionOutcome> old_version = {};
  std::optional<VersionOutcome> new_version = {};
  std::optional<LatencyReport> latency = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("window_ms", self.window_ms);
    f("old", self.old_version);
    f("new", self.new_version);
    f("latency", self.latency);
  }
};

/// The canary that serves beside the set once a workflow is done.
struct CanaryServing {
  std::optional<std::vector<std::string>> containers = {};
  std::optional<std::string> to = {};
  std::optional<double> percent = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("containers", self.containers);
    f("to", self.to);
    f("percent", self.percent);
  }
};

/// The last event of a long operation: "ok" with what serves now and what it cost, or
/// "error" with the error's code and message.
struct WorkflowResult {
  std::string result = "ok";
  std::optional<std::string> error = {};
  std::optional<std::string> message = {};
  std::optional<std::string> service = {};
  std::optional<std::string> from = {};
  std::optional<std::string> to = {};
  std::optional<std::string> container = {};  ///< the first serving container
  std::optional<std::vector<std::string>> containers = {};
  std::optional<std::string> image = {};
  std::optional<std::int64_t> replicas = {};
  std::optional<std::int64_t> generation = {};
  std::optional<CanaryServing> canary = {};
  std::optional<std::int64_t> switch_us = {};
  std::optional<std::int64_t> drain_ms = {};
  std::optional<std::int64_t> closed = {};
  std::optional<std::string> successor = {};  ///< upgrade: the process or container that serves
  std::optional<std::int64_t> drain_timeout_ms = {};
  std::optional<std::string> ended = {};  ///< logs: why following ended
  std::optional<std::int64_t> elapsed_ms = {};
  std::optional<CostReport> cost = {};

  /// Visits each field.
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("result", self.result);
    f("error", self.error);
    f("message", self.message);
    f("service", self.service);
    f("from", self.from);
    f("to", self.to);
    f("container", self.container);
    f("containers", self.containers);
    f("image", self.image);
    f("replicas", self.replicas);
    f("generation", self.generation);
    f("canary", self.canary);
    f("switch_us", self.switch_us);
    f("drain_ms", self.drain_ms);
    f("closed", self.closed);
    f("successor", self.successor);
    f("drain_timeout_ms", self.drain_timeout_ms);
    f("ended", self.ended);
    f("elapsed_ms", self.elapsed_ms);
    f("cost", self.cost);
  }
};

/// Emits one progress event: {"step": STEP, "state": STATE} and the event's fields.
template <typename Event>
void emit_event(EventSink& sink, StepState state, const Event& event) {
  emit_step(sink, Event::kStep, state, to_wire(event));
}

/// Emits the first event of a workflow: {"step": "begin"} and what is switched to what.
void emit_begin(EventSink& sink, const BeginEvent& event);

/// A successful operation's end.
inline OperationResult operation_done(const WorkflowResult& result) {
  return OperationResult{std::nullopt, to_wire(result)};
}

}  // namespace handoff::control
