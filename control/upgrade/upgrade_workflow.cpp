#include "control/upgrade/upgrade_workflow.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <memory>

#include "containers/own_container.hpp"
#include "control/base/domain_error.hpp"
#include "control/protocol/progress_events.hpp"
#include "control/upgrade/successor_container.hpp"
#include "control/upgrade/successor_process.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t millis_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Why the successor did not take over, with its last lines of output; it is stopped and
// removed.
OperationResult failed(Successor& successor, const std::string& why) {
  const std::string lines = successor.last_lines();
  successor.abandon();
  return operation_error(
      ErrorKind::internal, "upgrade_failed",
      fmt::format("{} {}; this process serves on{}", successor.name(), why, lines));
}

// Waits until the successor has taken over, failed, ended or run out of time, passing on what
// it prints meanwhile.
OperationResult watch(Successor& successor, Succession& succession, ServiceRegistry& registry,
                      const UpgradeOptions& options, EventSink& sink, Clock::time_point start) {
  auto deadline = start + options.timeout;
  std::string waiting_for;
  while (true) {
    successor.copy_output();
    // A deploy, swap or rollback in progress is waited for before the handover; that wait is
    // not the successor's to answer for.
    if (std::string busy = registry.busy_services(); !busy.empty()) {
      deadline = Clock::now() + options.timeout;
      if (busy != waiting_for) {
        emit_event(sink, StepState::running,
                   HandoverEvent{.waiting_for = busy, .elapsed_ms = millis_since(start)});
        waiting_for = std::move(busy);
      }
    }
    // Woken as soon as the takeover listener records the outcome.
    if (auto outcome =
            succession.outcome(successor.token(), Clock::now() + std::chrono::milliseconds(50))) {
      if (!outcome->took_over) {
        return failed(successor, fmt::format("did not take over: {}", outcome->reason));
      }
      successor.copy_output();
      emit_event(sink, StepState::done,
                 HandoverEvent{.successor = successor.name(),
                               .elapsed_ms = millis_since(start),
                               .drain_timeout_ms = options.drain_timeout.count()});
      return operation_done(WorkflowResult{.successor = successor.name(),
                                           .drain_timeout_ms = options.drain_timeout.count(),
                                           .elapsed_ms = millis_since(start)});
    }
    if (auto why = successor.ended()) {
      return failed(successor, fmt::format("{} before taking over", *why));
    }
    if (Clock::now() >= deadline || sink.stop_token().stop_requested()) {
      return failed(successor,
                    fmt::format("did not take over within {} ms", options.timeout.count()));
    }
  }
}

// Starts the successor the options ask for: a process or a container.
std::unique_ptr<Successor> start_successor(const UpgradeOptions& options) {
  if (!options.image.empty()) {
    return std::make_unique<SuccessorContainer>(std::make_unique<containers::DockerEngine>(),
                                                containers::front_container_id(), options.image);
  }
  return std::make_unique<SuccessorProcess>(options.exec);
}

void check_target(const UpgradeOptions& options) {
  if (options.exec.empty() == options.image.empty()) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      "give either 'exec' (a new binary) or 'image' (a new front container)");
  }
  if (!options.image.empty()) {
    if (containers::front_container_id().empty()) {
      throw DomainError(
          ErrorKind::invalid, "not_in_container",
          "handoff is not the entrypoint of a Docker container: upgrade it with --exec");
    }
    return;
  }
  if (options.exec.front() != '/') {
    throw DomainError(ErrorKind::invalid, "bad_field", "field 'exec' must be an absolute path");
  }
  if (::access(options.exec.c_str(), X_OK) != 0) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      fmt::format("'{}' is not an executable file", options.exec));
  }
  if (::getpid() == 1) {
    // When PID 1 exits, its container stops and takes every other process with it.
    throw DomainError(ErrorKind::invalid, "bad_field",
                      "handoff is PID 1 of its container: upgrade it with --image");
  }
}

}  // namespace

Operation prepare_upgrade(Succession& succession, ServiceRegistry& registry,
                          const UpgradeOptions& options) {
  check_target(options);
  if (succession.took_over()) {
    throw DomainError(ErrorKind::conflict, "upgrading",
                      "this process has already handed over to a new one");
  }
  if (!options.wait) {
    if (const std::string busy = registry.busy_services(); !busy.empty()) {
      throw DomainError(ErrorKind::conflict, "busy",
                        fmt::format("a workflow is running on {} (upgrade waits for it "
                                    "without --no-wait)",
                                    busy));
    }
  }
  return [&succession, &registry, options](EventSink& sink) -> OperationResult {
    const auto start = Clock::now();
    emit_begin(sink, BeginEvent{.service = "handoff",
                                .from = fmt::format("pid {}", ::getpid()),
                                .to = options.image.empty() ? options.exec : options.image});
    succession.set_drain_timeout(options.drain_timeout);
    std::unique_ptr<Successor> successor;
    try {
      successor = start_successor(options);
    } catch (const std::exception& e) {
      return operation_error(ErrorKind::internal, "upgrade_failed", e.what());
    }
    emit_event(sink, StepState::done,
               StartEvent{.name = successor->name(), .elapsed_ms = millis_since(start)});
    return watch(*successor, succession, registry, options, sink, start);
  };
}

}  // namespace handoff::control
