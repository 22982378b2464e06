#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "control/protocol/progress_events.hpp"
#include "control/protocol/workflow_step.hpp"

namespace handoff::control {

/// Renders a long operation's events (see Step) as progress lines for a person.
class ProgressPrinter {
 public:
  /// With `quiet`, it only keeps the result (the caller prints the raw JSON).
  ProgressPrinter(std::string verb, bool quiet, std::FILE* out = stdout, std::FILE* err = stderr)
      : verb_(std::move(verb)), quiet_(quiet), out_(out), err_(err) {}

  /// Takes one NDJSON line of the operation's stream.
  void line(std::string_view text);
  /// Prints the outcome; returns the exit code.
  [[nodiscard]] int finish() const;

 private:
  void print_step(Step step, std::optional<StepState> state, const boost::json::object& e);
  void print(const BeginEvent& e);
  void print(std::optional<StepState> state, const PullEvent& e);
  void print(std::optional<StepState> state, const CreateEvent& e);
  void print(std::optional<StepState> state, const StartEvent& e);
  void print(std::optional<StepState> state, const HealthCheckEvent& e);
  void print(const SwapEvent& e);
  void print(std::optional<StepState> state, const DrainEvent& e);
  void print(std::optional<StepState> state, const RetireEvent& e);
  void print(const CleanupEvent& e);
  void print(std::optional<StepState> state, const HandoverEvent& e);
  void print_cost(const CostReport& cost) const;
  void print_serving(const WorkflowResult& r) const;

  std::string verb_;
  bool quiet_;
  std::FILE* out_;
  std::FILE* err_;
  std::optional<WorkflowResult> result_;
  std::int64_t last_in_flight_ = -1;
  std::int64_t drain_timeout_ms_ = 0;
  std::int64_t last_print_ms_ = 0;
};

}  // namespace handoff::control
