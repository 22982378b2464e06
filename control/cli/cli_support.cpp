#include "control/cli/cli_support.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/protocol/control_socket.hpp"
#include "control/protocol/duration.hpp"
#include "control/protocol/json_fields.hpp"
#include "control/protocol/path_segment.hpp"
#include "control/protocol/percent.hpp"
#include "control/protocol/progress_printer.hpp"
#include "control/protocol/service_name.hpp"
#include "proxy/http/whole_number.hpp"

namespace handoff::control {

namespace json = boost::json;

// Prints an API error body ({"error","message"}) as one line; returns the exit code.
int report_error(int status, const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object() && v.as_object().contains("message")) {
    fmt::print(stderr, "handoff: {}\n", field_text(v.as_object(), "message"));
  } else {
    fmt::print(stderr, "handoff: the proxy answered HTTP {}\n", status);
  }
  return 1;
}

int run_operation(ControlClient& client, const std::string& verb, const std::string& path,
                  const json::object& body, bool as_json) {
  ProgressPrinter printer(verb, as_json);
  std::string error_text;
  bool ok_status = true;
  const int status =
      client.request("POST", path, json::serialize(body), nullptr, [&](std::string_view line) {
        if (as_json) {
          fmt::print("{}\n", line);
          std::fflush(stdout);
        }
        error_text += line;
        printer.line(line);
      });
  ok_status = status == 200;
  if (!ok_status) {
    return as_json ? 1 : report_error(status, error_text);
  }
  return printer.finish();
}

namespace {

// Prints the "warnings" of an API answer on stderr, one line each.
void print_warnings(const std::string& answer) {
  boost::system::error_code ec;
  const json::value v = json::parse(answer, ec);
  if (ec || !v.is_object()) {
    return;
  }
  if (const json::value* w = v.as_object().if_contains("warnings"); w != nullptr && w->is_array()) {
    for (const json::value& line : w->as_array()) {
      if (line.is_string()) {
        fmt::print(stderr, "handoff: warning: {}\n", std::string_view(line.as_string()));
      }
    }
  }
}

}  // namespace

// Sends a request with a plain JSON answer; prints it (or the error) and returns the exit code.
int simple_request(const CommonFlags& common, std::string_view method, const std::string& path,
                   const json::object& body, const std::string& done_message) {
  ControlClient client(control_socket_path(common.control));
  std::string answer;
  const int status = client.request(method, path, json::serialize(body), &answer);
  if (status < 200 || status >= 300) {
    if (common.json) {
      fmt::print("{}", answer);
    }
    return report_error(status, answer);
  }
  fmt::print("{}\n",
             common.json ? answer.substr(0, answer.find_last_not_of('\n') + 1) : done_message);
  print_warnings(answer);
  return 0;
}

std::function<void(std::string_view)> text_into(std::optional<std::string>& field) {
  return [&field](std::string_view v) { field = std::string(v); };
}

std::function<void(std::string_view)> duration_into(
    std::optional<std::chrono::milliseconds>& field) {
  return [&field](std::string_view v) { field = parse_duration(v); };
}

std::function<void(std::string_view)> percent_into(std::optional<Percent>& field) {
  return [&field](std::string_view v) { field = Percent{parse_percent(v)}; };
}

std::function<void(std::string_view)> set_to(std::optional<bool>& field, bool value) {
  return [&field, value](std::string_view) { field = value; };
}

std::int64_t parse_in_range(std::string_view text, FieldRange range) {
  const std::optional<std::int64_t> n = proxy::parse_whole_number<std::int64_t>(text);
  if (!n || *n < range.min || *n > range.max) {
    throw std::invalid_argument(
        fmt::format("'{}' is not a whole number from {} to {}", text, range.min, range.max));
  }
  return *n;
}

std::function<void(std::string_view)> int_into(std::optional<std::int64_t>& field,
                                               FieldRange range) {
  return [&field, range](std::string_view v) { field = parse_in_range(v, range); };
}

std::string service_path(std::string_view name, std::string_view action) {
  if (std::string problem = service_name_problem(name); !problem.empty()) {
    throw std::invalid_argument(problem);
  }
  std::string path = "/v1/services/" + percent_encode_segment(name);
  if (!action.empty()) {
    path += '/';
    path += action;
  }
  return path;
}

// The health gate and drain flags that swap, rollback and deploy share.
// `timeout_help` (a literal) says the deploy timeout's default, which depends on the command.
void add_gate_flags(std::vector<Flag>& flags, GateRequest& gate, std::string_view timeout_help) {
  flags.push_back({"health-path", "PATH", "GET this path on the target (default /up)",
                   text_into(gate.health_path)});
  flags.push_back(
      {"health-host", "NAME", "Host header for the health check", text_into(gate.health_host)});
  flags.push_back({"health-interval", "DUR", "between health checks (default 1s)",
                   duration_into(gate.health_interval)});
  flags.push_back({"healthy-threshold", "N", "consecutive 2xx needed (default 2)",
                   int_into(gate.healthy_threshold, kThresholdRange)});
  flags.push_back({"unhealthy-threshold", "N",
                   "while serving, failed checks in a row that eject a member (default 3)",
                   int_into(gate.unhealthy_threshold, kThresholdRange)});
  flags.push_back({"deploy-timeout", "DUR", timeout_help, duration_into(gate.deploy_timeout)});
  flags.push_back({"drain-timeout", "DUR",
                   "close what is still open on the old upstream after (default 30s)",
                   duration_into(gate.drain_timeout)});
  flags.push_back({"no-health-check", "", "switch without the HTTP health gate",
                   set_to(gate.health_check, false)});
}

}  // namespace handoff::control
