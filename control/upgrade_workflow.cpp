#include "control/upgrade_workflow.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <memory>

#include "control/domain_error.hpp"
#include "control/successor_process.hpp"
#include "control/workflow_step.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t millis_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Why the successor did not take over, with its last lines on stderr.
OperationResult failed(SuccessorProcess& successor, const std::string& why) {
  successor.kill();
  return operation_error(ErrorKind::internal, "upgrade_failed",
                         fmt::format("{}; this process serves on{}", why, successor.last_lines()));
}

// Copies the successor's output until it has taken over, failed, exited or run out of time.
OperationResult watch(SuccessorProcess& successor, Succession& succession,
                      const UpgradeOptions& options, EventSink& sink, Clock::time_point start) {
  const auto deadline = start + options.timeout;
  while (true) {
    successor.copy_output(std::chrono::milliseconds(50));
    if (auto outcome = succession.outcome(successor.token(), Clock::now())) {
      if (!outcome->took_over) {
        return failed(successor,
                      fmt::format("the new process did not take over: {}", outcome->reason));
      }
      successor.copy_output(std::chrono::milliseconds(0));
      emit_step(sink, Step::handover, StepState::done,
                {{"pid", successor.pid()},
                 {"elapsed_ms", millis_since(start)},
                 {"drain_timeout_ms", options.drain_timeout.count()}});
      return {std::nullopt, json::object{{"result", "ok"},
                                         {"from_pid", ::getpid()},
                                         {"to_pid", successor.pid()},
                                         {"elapsed_ms", millis_since(start)},
                                         {"drain_timeout_ms", options.drain_timeout.count()}}};
    }
    if (auto status = successor.exited()) {
      successor.copy_output(std::chrono::milliseconds(0));
      return failed(successor, fmt::format("the new process exited with status {} before "
                                           "taking over",
                                           *status));
    }
    if (Clock::now() >= deadline || sink.stop_token().stop_requested()) {
      return failed(successor, fmt::format("the new process did not take over within {} ms",
                                           options.timeout.count()));
    }
  }
}

}  // namespace

Operation prepare_upgrade(Succession& succession, ServiceRegistry& registry,
                          const UpgradeOptions& options) {
  if (options.exec.empty() || options.exec.front() != '/') {
    throw DomainError(ErrorKind::invalid, "bad_field", "field 'exec' must be an absolute path");
  }
  if (::access(options.exec.c_str(), X_OK) != 0) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      fmt::format("'{}' is not an executable file", options.exec));
  }
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
  return [&succession, options](EventSink& sink) -> OperationResult {
    const auto start = Clock::now();
    sink.emit(json::object{{"step", "begin"},
                           {"service", "handoff"},
                           {"from", fmt::format("pid {}", ::getpid())},
                           {"to", options.exec}});
    succession.set_drain_timeout(options.drain_timeout);
    std::unique_ptr<SuccessorProcess> successor;
    try {
      successor = std::make_unique<SuccessorProcess>(options.exec);
    } catch (const std::exception& e) {
      return operation_error(ErrorKind::internal, "upgrade_failed", e.what());
    }
    emit_step(
        sink, Step::start, StepState::done,
        {{"name", fmt::format("pid {}", successor->pid())}, {"elapsed_ms", millis_since(start)}});
    return watch(*successor, succession, options, sink, start);
  };
}

}  // namespace handoff::control
