#include "control/protocol/workflow_step.hpp"

#include <array>
#include <utility>

namespace handoff::control {

namespace {

constexpr std::array<std::pair<Step, std::string_view>, 11> kSteps = {{
    {Step::begin, "begin"},
    {Step::pull, "pull"},
    {Step::create, "create"},
    {Step::start, "start"},
    {Step::address, "address"},
    {Step::health_check, "health_check"},
    {Step::swap, "swap"},
    {Step::drain, "drain"},
    {Step::retire, "retire"},
    {Step::cleanup, "cleanup"},
    {Step::handover, "handover"},
}};

constexpr std::array<std::pair<StepState, std::string_view>, 4> kStates = {{
    {StepState::started, "started"},
    {StepState::running, "running"},
    {StepState::done, "done"},
    {StepState::warning, "warning"},
}};

template <typename Table, typename Key>
std::string_view name_in(const Table& table, Key key) {
  for (const auto& [k, name] : table) {
    if (k == key) {
      return name;
    }
  }
  return "unknown";
}

template <typename Key, typename Table>
std::optional<Key> key_in(const Table& table, std::string_view name) {
  for (const auto& [k, n] : table) {
    if (n == name) {
      return k;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view step_name(Step step) {
  return name_in(kSteps, step);
}

std::string_view state_name(StepState state) {
  return name_in(kStates, state);
}

std::optional<Step> parse_step(std::string_view name) {
  return key_in<Step>(kSteps, name);
}

std::optional<StepState> parse_state(std::string_view name) {
  return key_in<StepState>(kStates, name);
}

void emit_step(EventSink& sink, Step step, StepState state, boost::json::object fields) {
  // The step and state come first, so that a person reading the stream sees them first.
  boost::json::object event{{"step", step_name(step)}, {"state", state_name(state)}};
  for (auto& [key, value] : fields) {
    event[key] = std::move(value);
  }
  sink.emit(std::move(event));
}

}  // namespace handoff::control
