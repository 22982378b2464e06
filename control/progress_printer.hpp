#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "control/duration.hpp"

namespace handoff::control {

/// A JSON field as text ("" when absent or null; non-strings serialized).
inline std::string field_text(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return {};
  }
  return v->is_string() ? std::string(v->as_string()) : boost::json::serialize(*v);
}

/// A JSON number field (0 when absent or not a number).
inline std::int64_t field_number(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<std::int64_t>() : 0;
}

/// Renders a long operation's events as progress lines for a person.
class ProgressPrinter {
 public:
  /// With `quiet`, it only keeps the result (the caller prints the raw JSON).
  ProgressPrinter(std::string verb, bool quiet, std::FILE* out = stdout, std::FILE* err = stderr)
      : verb_(std::move(verb)), quiet_(quiet), out_(out), err_(err) {}

  void line(std::string_view text) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) {
      return;
    }
    const boost::json::object& e = v.as_object();
    if (e.contains("result")) {
      result_ = e;
      return;
    }
    if (quiet_) {
      return;
    }
    const std::string step = field_text(e, "step");
    const std::string state = field_text(e, "state");
    if (step == "begin") {
      fmt::print(out_, "{} {}: {} -> {}\n", verb_, field_text(e, "service"), field_text(e, "from"),
                 field_text(e, "to"));
    } else if (step == "health_check" && state == "running" && e.contains("engine_health")) {
      // The image's own HEALTHCHECK, as the engine reports it, before the HTTP gate.
      fmt::print(out_, "  health check  the engine reports {} ({})\n",
                 field_text(e, "engine_health"),
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "health_check" && state == "running") {
      const std::string answer = e.contains("status")
                                     ? fmt::format("HTTP {}", field_number(e, "status"))
                                     : field_text(e, "error");
      fmt::print(out_, "  health check  attempt {}: {} ({}/{} healthy, {})\n",
                 field_number(e, "attempt"), answer, field_number(e, "healthy"),
                 field_number(e, "needed"),
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "health_check" && state == "done") {
      fmt::print(out_, "  health check  passed in {}\n",
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "swap") {
      fmt::print(out_, "  switch        {} -> {} in {}us\n", field_text(e, "from"),
                 field_text(e, "to"), field_number(e, "switch_us"));
    } else if (step == "drain" && state == "started") {
      last_in_flight_ = field_number(e, "in_flight");
      drain_timeout_ms_ = field_number(e, "timeout_ms");
      fmt::print(out_, "  drain         {} in flight on {} (timeout {})\n", last_in_flight_,
                 field_text(e, "upstream"),
                 format_duration(std::chrono::milliseconds(field_number(e, "timeout_ms"))));
    } else if (step == "drain" && state == "running") {
      // Print when the count changes, and at least once a second while it does not.
      const std::int64_t n = field_number(e, "in_flight");
      const std::int64_t elapsed = field_number(e, "elapsed_ms");
      if (n != last_in_flight_ || elapsed - last_print_ms_ >= 1000) {
        fmt::print(out_, "  drain         {} in flight ({}; what remains is closed in {})\n", n,
                   format_duration(std::chrono::milliseconds(elapsed)),
                   format_duration(std::chrono::milliseconds(
                       std::max<std::int64_t>(drain_timeout_ms_ - elapsed, 0))));
        last_in_flight_ = n;
        last_print_ms_ = elapsed;
      }
    } else if (step == "pull" && state == "running" && e.contains("layers")) {
      fmt::print(out_, "  pull          {}/{} layers, {:.1f} of {:.1f} MB ({})\n",
                 field_number(e, "layers_done"), field_number(e, "layers"),
                 static_cast<double>(field_number(e, "bytes")) / 1e6,
                 static_cast<double>(field_number(e, "total_bytes")) / 1e6,
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "pull" && state == "running") {
      fmt::print(out_, "  pull          {}\n", field_text(e, "image"));
    } else if (step == "pull" && state == "done") {
      fmt::print(out_, "  pull          done in {}\n",
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "create" && state == "running") {
      fmt::print(out_, "  create        {} from {}\n", field_text(e, "name"),
                 field_text(e, "image"));
    } else if (step == "create" && state == "done") {
      fmt::print(out_, "  create        {} in {}\n", field_text(e, "id"),
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "start" && state == "done") {
      fmt::print(out_, "  start         {} running in {}\n", field_text(e, "name"),
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "address") {
      fmt::print(out_, "  address       {}\n", field_text(e, "address"));
    } else if (step == "retire" && state == "done") {
      std::string removed;
      for (const boost::json::value& r : e.at("removed").as_array()) {
        if (!removed.empty()) {
          removed += ", ";
        }
        removed.append(r.as_string().data(), r.as_string().size());
      }
      fmt::print(out_, "  retire        stopped {}{} in {}\n",
                 field_text(e, "stopped").empty() ? "nothing" : field_text(e, "stopped"),
                 removed.empty() ? "" : "; removed " + removed,
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))));
    } else if (step == "retire" && state == "warning") {
      fmt::print(out_, "  retire        warning: {}\n", field_text(e, "message"));
    } else if (step == "cleanup") {
      fmt::print(out_, "  cleanup       {}\n",
                 e.contains("removed")   ? "removed " + field_text(e, "removed")
                 : e.contains("stopped") ? "stopped " + field_text(e, "stopped")
                                         : field_text(e, "message"));
    } else if (step == "drain" && state == "done") {
      fmt::print(out_, "  drain         done in {}, {} closed at the timeout\n",
                 format_duration(std::chrono::milliseconds(field_number(e, "elapsed_ms"))),
                 field_number(e, "closed"));
    }
    std::fflush(out_);
  }

  /// Prints the outcome; returns the exit code.
  int finish() const {
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
    if (result_.contains("container")) {
      fmt::print(out_, "{} serves {} at {} (generation {})\n", field_text(result_, "container"),
                 field_text(result_, "service"), field_text(result_, "to"),
                 field_number(result_, "generation"));
    }
    fmt::print(out_, "done in {}\n",
               format_duration(std::chrono::milliseconds(field_number(result_, "elapsed_ms"))));
    return 0;
  }

 private:
  // What the workflow cost the traffic (the result's "cost"): requests per version and why
  // any failed, then request durations before and after the switch.
  void print_cost() const {
    const boost::json::value* cost = result_.if_contains("cost");
    if (cost == nullptr || !cost->is_object()) {
      return;
    }
    const boost::json::object& c = cost->as_object();
    const char* label = "  cost          ";
    for (const char* version : {"old", "new"}) {
      if (const boost::json::value* v = c.if_contains(version); v != nullptr && v->is_object()) {
        fmt::print(out_, "{}{} {}: {}\n", label, version, field_text(v->as_object(), "upstream"),
                   outcome_text(v->as_object()));
        label = "                ";
      }
    }
    const boost::json::value* latency = c.if_contains("latency");
    if (latency == nullptr || !latency->is_object()) {
      return;
    }
    for (const auto& [when, text] : {std::pair{"before", "the minute before the switch"},
                                     std::pair{"after", "after the switch"},
                                     std::pair{"during", "during the attempt"}}) {
      const boost::json::value* w = latency->as_object().if_contains(when);
      if (w == nullptr || !w->is_object()) {
        continue;
      }
      const boost::json::object& o = w->as_object();
      fmt::print(out_, "{}p50 {:.2f} ms, p99 {:.2f} ms over {} requests {}{}\n", label,
                 number(o, "p50_ms"), number(o, "p99_ms"), field_number(o, "requests"), text,
                 std::string_view(when) == "before"
                     ? std::string()
                     : fmt::format(" ({})", format_duration(std::chrono::milliseconds(
                                                field_number(o, "window_ms")))));
      label = "                ";
    }
  }

  // "1234 answered, 2 failed (1 upstream 5xx, 1 cut at the drain timeout)"
  static std::string outcome_text(const boost::json::object& v) {
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

  static double number(const boost::json::object& o, std::string_view key) {
    const boost::json::value* v = o.if_contains(key);
    return v != nullptr && v->is_number() ? v->to_number<double>() : 0.0;
  }

  std::string verb_;
  bool quiet_;
  std::FILE* out_;
  std::FILE* err_;
  boost::json::object result_;
  std::int64_t last_in_flight_ = -1;
  std::int64_t drain_timeout_ms_ = 0;
  std::int64_t last_print_ms_ = 0;
};

}  // namespace handoff::control
