#include "control/cli/cli_canary.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "control/cli/cli_support.hpp"
#include "control/protocol/control_socket.hpp"
#include "control/protocol/json_fields.hpp"
#include "control/protocol/percent.hpp"
#include "control/protocol/progress_printer.hpp"

namespace handoff::control {

namespace json = boost::json;

// The flags that start the new set as a canary (swap and deploy).
void add_canary_flags(std::vector<Flag>& flags, json::object& body) {
  const auto percent_field = [&body](const char* key) {
    return [&body, key](std::string_view v) {
      parse_percent(v);
      body[key] = v;
    };
  };
  flags.push_back({"canary", "P%",
                   "run the new set as a canary beside the serving one, for P% of clients",
                   percent_field("canary")});
  flags.push_back({"max-error-rate", "P%",
                   "roll the canary back when its 5xx share over --window is above (default 1%)",
                   percent_field("max_error_rate")});
  flags.push_back({"window", "DUR",
                   "the window the canary's error rate is taken over (default 60s)",
                   duration_field(body, "window")});
  flags.push_back({"min-requests", "N", "requests in the window before it is judged (default 100)",
                   int_field(body, "min_requests", kMinRequestsRange)});
  flags.push_back({"bake", "DUR", "promote the canary after this long within its budget",
                   duration_field(body, "bake")});
}

constexpr std::string_view kPromoteUsage =
    "usage: handoff promote SERVICE [options]\n\n"
    "Makes the running canary the serving set with one atomic store: every new request goes\n"
    "to it. The set that served drains, and its containers are stopped and kept for rollback.\n\n";
constexpr std::string_view kCanaryUsage =
    "usage: handoff canary SERVICE --percent P%\n\n"
    "Changes the share of clients the running canary takes. A client keeps its side while the\n"
    "share holds (its handoff_canary cookie); raising it only moves clients onto the canary.\n"
    "`handoff promote` ends the canary by making it serve everything, `handoff rollback`\n"
    "by removing it.\n\n";

int promote_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  json::object body;
  std::vector<Flag> flags{
      {"drain-timeout", "DUR", "close what is still open on the old set after (default 30s)",
       duration_field(body, "drain_timeout")},
      {"stop-timeout", "DUR", "grace period when stopping the old containers (default 10s)",
       duration_field(body, "stop_timeout")},
      {"keep", "N", "stopped sets of containers kept for rollback (default 1)",
       int_field(body, "keep", kKeepRange)},
  };
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}", kPromoteUsage, flags_help(flags));
    return 0;
  }
  if (words.size() != 1) {
    throw std::invalid_argument("usage: handoff promote SERVICE");
  }
  ControlClient client(control_socket_path(common.control));
  const std::string service(words[0]);
  return run_operation(client, "promote", service_path(service, "promote"), body, common.json);
}

int canary_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  json::object body;
  std::vector<Flag> flags{
      {"percent", "P%", "the share of clients the canary takes", [&body](std::string_view v) {
         parse_percent(v);
         body["percent"] = v;
       }}};
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}", kCanaryUsage, flags_help(flags));
    return 0;
  }
  if (words.size() != 1 || !body.contains("percent")) {
    throw std::invalid_argument("usage: handoff canary SERVICE --percent P%");
  }
  const std::string service(words[0]);
  return simple_request(
      common, "POST", service_path(service, "canary"), body,
      fmt::format("canary of {} takes {} of clients", service, field_text(body, "percent")));
}

}  // namespace handoff::control
