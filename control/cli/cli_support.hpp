#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/base/flags.hpp"
#include "control/cli/control_client.hpp"
#include "control/protocol/field_limits.hpp"
#include "control/protocol/requests.hpp"

namespace handoff::control {

/// Flags every control verb takes.
struct CommonFlags {
  std::string control;
  bool json = false;
  bool help = false;

  void add_to(std::vector<Flag>& flags) {
    flags.push_back({"control", "PATH",
                     "control socket (default $HANDOFF_CONTROL or "
                     "/run/handoff/control.sock)",
                     [this](std::string_view v) { control = v; }});
    flags.push_back({"json", "", "print the API's JSON instead of progress lines",
                     [this](std::string_view) { json = true; }});
    flags.push_back({"help", "", "show this help", [this](std::string_view) { help = true; }});
  }
};

/// Prints an API error body ({"error","message"}) as one line; returns the exit code (1).
int report_error(int status, const std::string& body);

/// POSTs `body` to a long operation at `path` and prints its progress as it comes (or, with
/// `as_json`, the raw NDJSON); returns the exit code.
int run_operation(ControlClient& client, const std::string& verb, const std::string& path,
                  const boost::json::object& body, bool as_json);

/// Sends a request with a plain JSON answer; prints `done_message` (or the JSON, or the error)
/// and returns the exit code.
int simple_request(const CommonFlags& common, std::string_view method, const std::string& path,
                   const boost::json::object& body, const std::string& done_message);

/// A flag that sets a text field of a request.
std::function<void(std::string_view)> text_into(std::optional<std::string>& field);
/// A flag that sets a duration field (checked here, so that the error names the flag).
std::function<void(std::string_view)> duration_into(
    std::optional<std::chrono::milliseconds>& field);
/// A whole number within `range`, as a flag or argument gives it; throws invalid_argument
/// (exit 2) with the bounds the API would have refused it by.
std::int64_t parse_in_range(std::string_view text, FieldRange range);
/// A flag that sets a whole-number field within `range`.
std::function<void(std::string_view)> int_into(std::optional<std::int64_t>& field,
                                               FieldRange range);
/// A flag that sets a percentage field ("10%", "0.5%").
std::function<void(std::string_view)> percent_into(std::optional<Percent>& field);
/// A flag without a value that sets a true/false field to `value`.
std::function<void(std::string_view)> set_to(std::optional<bool>& field, bool value);

/// The control API's path of a service, or of one of its actions: the name is checked against
/// the service-name rule (invalid_argument, exit 2) and percent-encoded, so no name can reach
/// another path.
std::string service_path(std::string_view name, std::string_view action = {});

/// The health gate and drain flags that swap, rollback, deploy and scale share.
/// `timeout_help` (a literal) says the deploy timeout's default, which depends on the command.
void add_gate_flags(std::vector<Flag>& flags, GateRequest& gate, std::string_view timeout_help);

}  // namespace handoff::control
