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
void add_canary_flags(std::vector<Flag>& flags, CanaryRequest& canary) {
  flags.push_back({"canary", "P%",
                   "run the new set as a canary beside the serving one, for P% of clients",
                   percent_into(canary.canary)});
  flags.push_back({"max-error-rate", "P%",
                   "roll the canary back when its 5xx share over --window is above (default 1%)",
                   percent_into(canary.max_error_rate)});
  flags.push_back({"window", "DUR",
                   "the window the canary's error rate is taken over (default 60s)",
                   duration_into(canary.window)});
  flags.push_back({"min-requests", "N", "requests in the window before it is judged (default 100)",
                   int_into(canary.min_requests, kMinRequestsRange)});
  flags.push_back({"bake", "DUR", "promote the canary after this long within its budget",
                   duration_into(canary.bake)});
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
  PromoteRequest request;
  std::vector<Flag> flags{
      {"drain-timeout", "DUR", "close what is still open on the old set after (default 30s)",
       duration_into(request.drain_timeout)},
      {"stop-timeout", "DUR", "grace period when stopping the old containers (default 10s)",
       duration_into(request.stop_timeout)},
      {"keep", "N", "stopped sets of containers kept for rollback (default 1)",
       int_into(request.keep, kKeepRange)},
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
  return run_operation(client, "promote", service_path(service, "promote"), request_body(request),
                       common.json);
}

int canary_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  CanaryShareRequest request;
  std::vector<Flag> flags{
      {"percent", "P%", "the share of clients the canary takes", percent_into(request.percent)}};
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}", kCanaryUsage, flags_help(flags));
    return 0;
  }
  if (words.size() != 1 || !request.percent) {
    throw std::invalid_argument("usage: handoff canary SERVICE --percent P%");
  }
  const std::string service(words[0]);
  return simple_request(common, "POST", service_path(service, "canary"), request_body(request),
                        fmt::format("canary of {} takes {} of clients", service,
                                    format_percent(request.percent->hundredths)));
}

}  // namespace handoff::control
