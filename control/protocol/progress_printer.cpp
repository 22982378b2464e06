#include "control/protocol/progress_printer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "control/protocol/duration.hpp"
#include "control/protocol/progress_events.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

// The column every progress line's text starts at, after the step's label.
constexpr std::string_view kIndent = "                ";

// A field's value as text; "?" when the event did not say.
template <typename T>
std::string shown(const std::optional<T>& v) {
  return v ? fmt::format("{}", *v) : std::string("?");
}

// A duration in milliseconds as a person reads it; "?" when the event did not say.
std::string took(const std::optional<std::int64_t>& ms) {
  return ms ? format_duration(std::chrono::milliseconds(*ms)) : std::string("?");
}

// The names joined with ", " ("" when there are none).
std::string joined(const std::optional<std::vector<std::string>>& names) {
  return names ? fmt::format("{}", fmt::join(*names, ", ")) : std::string();
}

// "1234 answered, 2 failed (1 upstream 5xx, 1 cut at the drain timeout)"
std::string outcome_text(const VersionOutcome& v) {
  std::string reasons;
  for (const auto& [count, name] :
       {std::pair{v.upstream_5xx, "upstream 5xx"}, std::pair{v.proxy_5xx, "timeout or bad answer"},
        std::pair{v.connect_errors, "connect error"},
        std::pair{v.cut_at_drain, "cut at the drain timeout"},
        std::pair{v.incomplete, "incomplete"}}) {
    if (count.value_or(0) != 0) {
      reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", *count, name);
    }
  }
  return fmt::format("{} answered, {} failed{}", shown(v.answered), shown(v.failed),
                     reasons.empty() ? "" : " (" + reasons + ")");
}

}  // namespace

void ProgressPrinter::line(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return;
  }
  const json::object& e = v.as_object();
  try {
    if (e.contains("result")) {
      result_ = from_wire<WorkflowResult>(e);
      return;
    }
    const json::value* step_field = e.if_contains("step");
    const json::value* state_field = e.if_contains("state");
    const std::optional<Step> step = step_field != nullptr && step_field->is_string()
                                         ? parse_step(step_field->as_string())
                                         : std::nullopt;
    if (quiet_ || !step) {
      return;
    }
    const std::optional<StepState> state = state_field != nullptr && state_field->is_string()
                                               ? parse_state(state_field->as_string())
                                               : std::nullopt;
    print_step(*step, state, e);
  } catch (const WireError& error) {
    fmt::print(err_, "handoff: a progress event this handoff cannot read ({}): {}\n", error.what(),
               text);
  }
  std::fflush(out_);
}

void ProgressPrinter::print_step(Step step, std::optional<StepState> state, const json::object& e) {
  switch (step) {
    case Step::begin:
      print(from_wire<BeginEvent>(e));
      break;
    case Step::pull:
      print(state, from_wire<PullEvent>(e));
      break;
    case Step::create:
      print(state, from_wire<CreateEvent>(e));
      break;
    case Step::start:
      print(state, from_wire<StartEvent>(e));
      break;
    case Step::address:
      fmt::print(out_, "  address       {}\n", shown(from_wire<AddressEvent>(e).address));
      break;
    case Step::health_check:
      print(state, from_wire<HealthCheckEvent>(e));
      break;
    case Step::swap:
      print(from_wire<SwapEvent>(e));
      break;
    case Step::drain:
      print(state, from_wire<DrainEvent>(e));
      break;
    case Step::retire:
      print(state, from_wire<RetireEvent>(e));
      break;
    case Step::handover:
      print(state, from_wire<HandoverEvent>(e));
      break;
    case Step::cleanup:
      print(from_wire<CleanupEvent>(e));
      break;
  }
}

void ProgressPrinter::print(const BeginEvent& e) {
  fmt::print(out_, "{} {}: {} -> {}\n", verb_, shown(e.service), shown(e.from), shown(e.to));
}

void ProgressPrinter::print(std::optional<StepState> state, const CreateEvent& e) {
  fmt::print(out_, "  create        {}\n",
             state == StepState::done ? fmt::format("{} in {}", shown(e.id), took(e.elapsed_ms))
                                      : fmt::format("{} from {}", shown(e.name), shown(e.image)));
}

void ProgressPrinter::print(std::optional<StepState> state, const StartEvent& e) {
  if (state == StepState::done) {
    fmt::print(out_, "  start         {} running in {}\n", shown(e.name), took(e.elapsed_ms));
  }
}

void ProgressPrinter::print(const SwapEvent& e) {
  if (e.canary_percent) {
    fmt::print(out_, "  canary        {} takes {}% of clients beside {}\n", shown(e.to),
               *e.canary_percent, shown(e.from));
  } else if (e.reason) {
    fmt::print(out_, "  canary        {} removed ({}); {} serves everything\n", shown(e.from),
               *e.reason, shown(e.to));
  } else if (e.switch_us) {
    fmt::print(out_, "  switch        {} -> {} in {}us\n", shown(e.from), shown(e.to),
               *e.switch_us);
  } else {  // on a swarm: the record changed; each node switches on its own
    fmt::print(out_, "  switch        {} -> {}\n", shown(e.from), shown(e.to));
  }
}

void ProgressPrinter::print(std::optional<StepState> state, const HandoverEvent& e) {
  if (state == StepState::done) {
    fmt::print(out_, "  handover      {} accepts on the listening sockets in {}\n",
               shown(e.successor), took(e.elapsed_ms));
  } else {
    fmt::print(out_, "  handover      waits for the workflow on {} to end ({})\n",
               shown(e.waiting_for), took(e.elapsed_ms));
  }
}

void ProgressPrinter::print(const CleanupEvent& e) {
  fmt::print(out_, "  cleanup       {}\n",
             e.removed   ? "removed " + *e.removed
             : e.stopped ? "stopped " + *e.stopped
                         : shown(e.message));
}

void ProgressPrinter::print(std::optional<StepState> state, const HealthCheckEvent& e) {
  if (state == StepState::done) {
    fmt::print(out_, "  health check  passed in {}\n", took(e.elapsed_ms));
  } else if (state == StepState::running && e.engine_health) {
    // The image's own HEALTHCHECK, as the engine reports it, before the HTTP gate.
    fmt::print(out_, "  health check  the engine reports {} ({})\n", *e.engine_health,
               took(e.elapsed_ms));
  } else if (state == StepState::running) {
    const std::string answer = e.status ? fmt::format("HTTP {}", *e.status) : shown(e.error);
    fmt::print(out_, "  health check  attempt {}: {} ({}/{} healthy, {})\n", shown(e.attempt),
               answer, shown(e.healthy), shown(e.needed), took(e.elapsed_ms));
  }
}

void ProgressPrinter::print(std::optional<StepState> state, const DrainEvent& e) {
  if (state == StepState::started) {
    last_in_flight_ = e.in_flight.value_or(-1);
    drain_timeout_ms_ = e.timeout_ms.value_or(0);
    if (e.in_flight) {
      fmt::print(out_, "  drain         {} in flight on {} (timeout {})\n", *e.in_flight,
                 shown(e.upstream), took(e.timeout_ms));
    } else {  // on a swarm: every node drains its own
      fmt::print(out_, "  drain         {} on every node (up to {})\n", shown(e.upstream),
                 took(e.timeout_ms));
    }
  } else if (state == StepState::running) {
    // Print when the count changes, and at least once a second while it does not.
    const std::int64_t n = e.in_flight.value_or(-1);
    const std::int64_t elapsed = e.elapsed_ms.value_or(0);
    if (n != last_in_flight_ || elapsed - last_print_ms_ >= 1000) {
      fmt::print(out_, "  drain         {} in flight ({}; what remains is closed in {})\n",
                 shown(e.in_flight), took(e.elapsed_ms),
                 format_duration(std::chrono::milliseconds(
                     std::max<std::int64_t>(drain_timeout_ms_ - elapsed, 0))));
      last_in_flight_ = n;
      last_print_ms_ = elapsed;
    }
  } else if (state == StepState::done) {
    fmt::print(out_, "  drain         done in {}{}\n", took(e.elapsed_ms),
               e.closed ? fmt::format(", {} closed at the timeout", *e.closed) : std::string());
  }
}

void ProgressPrinter::print(std::optional<StepState> state, const PullEvent& e) {
  if (state == StepState::done) {
    fmt::print(out_, "  pull          done in {}\n", took(e.elapsed_ms));
  } else if (e.layers) {
    fmt::print(out_, "  pull          {}/{} layers, {:.1f} of {:.1f} MB ({})\n",
               shown(e.layers_done), *e.layers, static_cast<double>(e.bytes.value_or(0)) / 1e6,
               static_cast<double>(e.total_bytes.value_or(0)) / 1e6, took(e.elapsed_ms));
  } else {
    fmt::print(out_, "  pull          {}\n", shown(e.image));
  }
}

void ProgressPrinter::print(std::optional<StepState> state, const RetireEvent& e) {
  if (state == StepState::warning) {
    fmt::print(out_, "  retire        warning: {}\n", shown(e.message));
  } else if (state == StepState::done) {
    const std::string names = joined(e.removed);
    const std::string stopped = e.stopped_all ? joined(e.stopped_all) : e.stopped.value_or("");
    fmt::print(out_, "  retire        stopped {}{} in {}\n", stopped.empty() ? "nothing" : stopped,
               names.empty() ? "" : "; removed " + names, took(e.elapsed_ms));
  }
}

int ProgressPrinter::finish() const {
  if (!result_) {
    fmt::print(err_, "handoff: {} ended without a result (the proxy may have stopped)\n", verb_);
    return 1;
  }
  const WorkflowResult& r = *result_;
  if (!quiet_ && r.cost) {
    print_cost(*r.cost);
  }
  if (r.result != "ok") {
    fmt::print(err_, "handoff: {} failed: {}\n", verb_, shown(r.message));
    return 1;
  }
  if (quiet_) {
    return 0;
  }
  if (r.containers) {
    print_serving(r);
  }
  if (r.successor) {
    fmt::print(out_, "{} serves; the old process finishes its requests (up to {}) and exits\n",
               *r.successor, took(r.drain_timeout_ms));
  }
  fmt::print(out_, "done in {}\n", took(r.elapsed_ms));
  return 0;
}

// What serves once a container workflow is done (the result's "containers", "to", "generation"
// and "canary"), as `status` shows it.
void ProgressPrinter::print_serving(const WorkflowResult& r) const {
  const std::string serving = joined(r.containers);
  fmt::print(out_, "{} is served by {} at {} (generation {})\n", shown(r.service),
             serving.empty() ? "no container" : serving, shown(r.to), shown(r.generation));
  if (!r.canary) {
    return;
  }
  const CanaryServing& c = *r.canary;
  const std::string members = joined(c.containers);
  fmt::print(out_, "canary {} at {} takes {}% of clients\n",
             members.empty() ? shown(c.to) : members, shown(c.to), shown(c.percent));
}

// What the workflow cost the traffic: requests per version and why any failed, then request
// durations before and after the switch.
void ProgressPrinter::print_cost(const CostReport& cost) const {
  std::string_view label = "  cost          ";
  for (const auto& [version, name] :
       {std::pair{&cost.old_version, "old"}, std::pair{&cost.new_version, "new"}}) {
    if (*version) {
      fmt::print(out_, "{}{} {}: {}\n", label, name, shown((*version)->upstream),
                 outcome_text(**version));
      label = kIndent;
    }
  }
  if (!cost.latency) {
    return;
  }
  for (const auto& [window, text] :
       {std::pair{&cost.latency->before, "the minute before the switch"},
        std::pair{&cost.latency->after, "after the switch"},
        std::pair{&cost.latency->during, "during the attempt"}}) {
    if (!*window) {
      continue;
    }
    const LatencyWindow& w = **window;
    const bool before = window == &cost.latency->before;
    fmt::print(out_, "{}p50 {:.2f} ms, p99 {:.2f} ms over {} requests {}{}\n", label,
               w.p50_ms.value_or(0), w.p99_ms.value_or(0), shown(w.requests), text,
               before ? std::string() : fmt::format(" ({})", took(w.window_ms)));
    label = kIndent;
  }
}

}  // namespace handoff::control
