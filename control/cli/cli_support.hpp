#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "control/cli/control_client.hpp"
#include "control/protocol/field_limits.hpp"
#include "control/base/flags.hpp"

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

/// A flag that stores its value as a string field of the request body.
std::function<void(std::string_view)> text_field(boost::json::object& body, const char* key);
/// A flag that stores a duration (checked here, so that the error names the flag).
std::function<void(std::string_view)> duration_field(boost::json::object& body, const char* key);
/// A whole number within `range`, as a flag or argument gives it; throws invalid_argument
/// (exit 2) with the bounds the API would have refused it by.
std::int64_t parse_in_range(std::string_view text, FieldRange range);
/// A flag that stores a whole number within `range`.
std::function<void(std::string_view)> int_field(boost::json::object& body, const char* key,
                                                FieldRange range);

/// The control API's path of a service, or of one of its actions: the name is checked against
/// the service-name rule (invalid_argument, exit 2) and percent-encoded, so no name can reach
/// another path.
std::string service_path(std::string_view name, std::string_view action = {});

/// The health gate and drain flags that swap, rollback, deploy and scale share.
/// `timeout_help` (a literal) says the deploy timeout's default, which depends on the command.
void add_gate_flags(std::vector<Flag>& flags, boost::json::object& body,
                    std::string_view timeout_help);

}  // namespace handoff::control
