#include "control/protocol/progress_printer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "control/protocol/duration.hpp"
#include "control/protocol/json_fields.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

// The column every progress line's text starts at, after the step's label.
constexpr std::string_view kIndent = "                ";

std::string took(const json::object& e, std::string_view key = "elapsed_ms") {
  return format_duration(std::chrono::milliseconds(field_number(e, key)));
}

double number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<double>() : 0.0;
}

// "1234 answered, 2 failed (1 upstream 5xx, 1 cut at the drain timeout)"
std::string outcome_text(const json::object& v) {
  std::string reasons;
  for (const auto& [key, name] :
       {std::pair{"upstream_5xx", "upstream 5xx"}, std::pair{"proxy_5xx", "timeout or bad answer"},
        std::pair{"connect_errors", "connect error"},
        std::pair{"cut_at_drain", "cut at the drain timeout"},
        std::pair{"incomplete", "incomplete"}}) {
    if (const std::int64_t n = field_number(v, key); n != 0) {
      reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", n, name);
    }
  }
  return fmt::format("{} answered, {} failed{}", field_number(v, "answered"),
                     field_number(v, "failed"), reasons.empty() ? "" : " (" + reasons + ")");
}

}  // namespace

void ProgressPrinter::line(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return;
  }
  const json::object& e = v.as_object();
  if (e.contains("result")) {
    result_ = e;
    return;
  }
  const std::optional<Step> step = parse_step(field_text(e, "step"));
  if (quiet_ || !step) {
    return;
  }
  print_step(*step, parse_state(field_text(e, "state")), e);
  std::fflush(out_);
}

void ProgressPrinter::print_step(Step step, std::optional<StepState> state, const json::object& e) {
  const bool done = state == StepState::done;
  switch (step) {
    case Step::begin:
      fmt::print(out_, "{} {}: {} -> {}\n", verb_, field_text(e, "service"), field_text(e, "from"),
                 field_text(e, "to"));
      break;
    case Step::pull:
      print_pull(state, e);
      break;
    case Step::create:
      fmt::print(out_, "  create        {}\n",
                 done ? fmt::format("{} in {}", field_text(e, "id"), took(e))
                      : fmt::format("{} from {}", field_text(e, "name"), field_text(e, "image")));
      break;
    case Step::start:
      if (done) {
        fmt::print(out_, "  start         {} running in {}\n", field_text(e, "name"), took(e));
      }
      break;
    case Step::address:
      fmt::print(out_, "  address       {}\n", field_text(e, "address"));
      break;
    case Step::health_check:
      print_health_check(state, e);
      break;
    case Step::swap:
      if (e.contains("canary_percent")) {
        fmt::print(out_, "  canary        {} takes {}% of clients beside {}\n", field_text(e, "to"),
                   e.at("canary_percent").to_number<double>(), field_text(e, "from"));
      } else if (e.contains("reason")) {
        fmt::print(out_, "  canary        {} removed ({}); {} serves everything\n",
                   field_text(e, "from"), field_text(e, "reason"), field_text(e, "to"));
      } else {
        fmt::print(out_, "  switch        {} -> {} in {}us\n", field_text(e, "from"),
                   field_text(e, "to"), field_number(e, "switch_us"));
      }
      break;
    case Step::drain:
      print_drain(state, e);
      break;
    case Step::retire:
      print_retire(state, e);
      break;
    case Step::handover:
      if (done) {
        fmt::print(out_, "  handover      {} accepts on the listening sockets in {}\n",
                   field_text(e, "successor"), took(e));
      } else {
        fmt::print(out_, "  handover      waits for the workflow on {} to end ({})\n",
                   field_text(e, "waiting_for"), took(e));
      }
      break;
    case Step::cleanup:
      fmt::print(out_, "  cleanup       {}\n",
                 e.contains("removed")   ? "removed " + field_text(e, "removed")
                 : e.contains("stopped") ? "stopped " + field_text(e, "stopped")
                                         : field_text(e, "message"));
      break;
  }
}

void ProgressPrinter::print_health_check(std::optional<StepState> state, const json::object& e) {
  if (state == StepState::done) {
    fmt::print(out_, "  health check  passed in {}\n", took(e));
  } else if (state == StepState::running && e.contains("engine_health")) {
    // The image's own HEALTHCHECK, as the engine reports it, before the HTTP gate.
    fmt::print(out_, "  health check  the engine reports {} ({})\n", field_text(e, "engine_health"),
               took(e));
  } else if (state == StepState::running) {
    const std::string answer = e.contains("status")
                                   ? fmt::format("HTTP {}", field_number(e, "status"))
                                   : field_text(e, "error");
    fmt::print(out_, "  health check  attempt {}: {} ({}/{} healthy, {})\n",
               field_number(e, "attempt"), answer, field_number(e, "healthy"),
               field_number(e, "needed"), took(e));
  }
}

void ProgressPrinter::print_drain(std::optional<StepState> state, const json::object& e) {
  if (state == StepState::started) {
    last_in_flight_ = field_number(e, "in_flight");
    drain_timeout_ms_ = field_number(e, "timeout_ms");
    fmt::print(out_, "  drain         {} in flight on {} (timeout {})\n", last_in_flight_,
               field_text(e, "upstream"), took(e, "timeout_ms"));
  } else if (state == StepState::running) {
    // Print when the count changes, and at least once a second while it does not.
    const std::int64_t n = field_number(e, "in_flight");
    const std::int64_t elapsed = field_number(e, "elapsed_ms");
    if (n != last_in_flight_ || elapsed - last_print_ms_ >= 1000) {
      fmt::print(
          out_, "  drain         {} in flight ({}; what remains is closed in {})\n", n, took(e),
          format_duration(
              std::chrono::milliseconds(std::max<std::int64_t>(drain_timeout_ms_ - elapsed, 0))));
      last_in_flight_ = n;
      last_print_ms_ = elapsed;
    }
  } else if (state == StepState::done) {
    fmt::print(out_, "  drain         done in {}, {} closed at the timeout\n", took(e),
               field_number(e, "closed"));
  }
}

void ProgressPrinter::print_pull(std::optional<StepState> state, const json::object& e) {
  if (state == StepState::done) {
    fmt::print(out_, "  pull          done in {}\n", took(e));
  } else if (e.contains("layers")) {
    fmt::print(out_, "  pull          {}/{} layers, {:.1f} of {:.1f} MB ({})\n",
               field_number(e, "layers_done"), field_number(e, "layers"),
               static_cast<double>(field_number(e, "bytes")) / 1e6,
               static_cast<double>(field_number(e, "total_bytes")) / 1e6, took(e));
  } else {
    fmt::print(out_, "  pull          {}\n", field_text(e, "image"));
  }
}

namespace {

// The names in the array field `key` of `o`, joined with ", " ("" when there is none).
std::string names_in(const json::object& o, std::string_view key) {
  const json::value* names = o.if_contains(key);
  return names != nullptr && names->is_array() ? join_strings(names->as_array(), ", ") : "";
}

}  // namespace

void ProgressPrinter::print_retire(std::optional<StepState> state, const json::object& e) {
  if (state == StepState::warning) {
    fmt::print(out_, "  retire        warning: {}\n", field_text(e, "message"));
  } else if (state == StepState::done) {
    const std::string names = names_in(e, "removed");
    const std::string stopped =
        e.contains("stopped_all") ? names_in(e, "stopped_all") : field_text(e, "stopped");
    fmt::print(out_, "  retire        stopped {}{} in {}\n", stopped.empty() ? "nothing" : stopped,
               names.empty() ? "" : "; removed " + names, took(e));
  }
}

int ProgressPrinter::finish() const {
  if (result_.empty()) {
    fmt::print(err_, "handoff: {} ended without a result (the proxy may have stopped)\n", verb_);
    return 1;
  }
  const bool ok = field_text(result_, "result") == "ok";
  if (!quiet_) {
    print_cost();
  }
  if (!ok) {
    fmt::print(err_, "handoff: {} failed: {}\n", verb_, field_text(result_, "message"));
    return 1;
  }
  if (quiet_) {
    return 0;
  }
  if (result_.contains("containers")) {
    print_serving();
  }
  if (result_.contains("successor")) {
    fmt::print(out_, "{} serves; the old process finishes its requests (up to {}) and exits\n",
               field_text(result_, "successor"), took(result_, "drain_timeout_ms"));
  }
  fmt::print(out_, "done in {}\n", took(result_));
  return 0;
}

// What serves once a container workflow is done (the result's "containers", "to", "generation"
// and "canary"), as `status` shows it.
void ProgressPrinter::print_serving() const {
  const std::string serving = names_in(result_, "containers");
  fmt::print(out_, "{} is served by {} at {} (generation {})\n", field_text(result_, "service"),
             serving.empty() ? "no container" : serving, field_text(result_, "to"),
             field_number(result_, "generation"));
  const json::value* canary = result_.if_contains("canary");
  if (canary == nullptr || !canary->is_object()) {
    return;
  }
  const json::object& c = canary->as_object();
  const std::string members = names_in(c, "containers");
  fmt::print(out_, "canary {} at {} takes {}% of clients\n",
             members.empty() ? field_text(c, "to") : members, field_text(c, "to"),
             number(c, "percent"));
}

// What the workflow cost the traffic (the result's "cost"): requests per version and why any
// failed, then request durations before and after the switch.
void ProgressPrinter::print_cost() const {
  const json::value* cost = result_.if_contains("cost");
  if (cost == nullptr || !cost->is_object()) {
    return;
  }
  const json::object& c = cost->as_object();
  std::string_view label = "  cost          ";
  for (const char* version : {"old", "new"}) {
    if (const json::value* v = c.if_contains(version); v != nullptr && v->is_object()) {
      fmt::print(out_, "{}{} {}: {}\n", label, version, field_text(v->as_object(), "upstream"),
                 outcome_text(v->as_object()));
      label = kIndent;
    }
  }
  const json::value* latency = c.if_contains("latency");
  if (latency == nullptr || !latency->is_object()) {
    return;
  }
  for (const auto& [when, text] :
       {std::pair{"before", "the minute before the switch"}, std::pair{"after", "after the switch"},
        std::pair{"during", "during the attempt"}}) {
    const json::value* w = latency->as_object().if_contains(when);
    if (w == nullptr || !w->is_object()) {
      continue;
    }
    const json::object& o = w->as_object();
    const bool before = std::string_view(when) == "before";
    fmt::print(out_, "{}p50 {:.2f} ms, p99 {:.2f} ms over {} requests {}{}\n", label,
               number(o, "p50_ms"), number(o, "p99_ms"), field_number(o, "requests"), text,
               before ? std::string() : fmt::format(" ({})", took(o, "window_ms")));
    label = kIndent;
  }
}

}  // namespace handoff::control
