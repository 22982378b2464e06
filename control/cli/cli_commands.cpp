#include "control/cli/cli_commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "control/base/flags.hpp"
#include "control/cli/cli_canary.hpp"
#include "control/cli/cli_support.hpp"
#include "control/cli/control_client.hpp"
#include "control/cli/registry_auth.hpp"
#include "control/cli/tls_flags.hpp"
#include "control/protocol/control_socket.hpp"
#include "control/protocol/duration.hpp"
#include "control/protocol/field_limits.hpp"
#include "control/protocol/json_fields.hpp"
#include "control/protocol/percent.hpp"
#include "control/protocol/progress_events.hpp"
#include "control/protocol/progress_printer.hpp"
#include "control/protocol/task_port.hpp"
#include "proxy/address.hpp"
#include "proxy/http/whole_number.hpp"

namespace handoff::control {

namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

// Short names for the JSON field readers the printers share.
std::string str(const json::object& o, std::string_view key) {
  return field_text(o, key);
}
std::int64_t num(const json::object& o, std::string_view key) {
  return field_number(o, key);
}

// Prints one event of a followed log stream, or keeps it when it is the result.
void print_log_event(const json::object& e, std::optional<WorkflowResult>& result) {
  if (e.contains("result")) {
    result = from_wire<WorkflowResult>(e);
    return;
  }
  const auto event = from_wire<LogEvent>(e);
  if (event.log) {
    fmt::print("{}", *event.log);
    std::fflush(stdout);
  } else if (event.following) {
    fmt::print(stderr, "handoff: now following {}, the service's new container\n",
               *event.following);
  }
}

// Prints a followed log stream's output as it comes; a switch to a new container is said on
// stderr. Returns the exit code.
int follow_logs(ControlClient& client, const std::string& path, const json::object& body,
                bool as_json) {
  std::string error_text;
  std::optional<WorkflowResult> result;
  const int status =
      client.request("POST", path, json::serialize(body), nullptr, [&](std::string_view line) {
        if (as_json) {
          fmt::print("{}\n", line);
          std::fflush(stdout);
          return;
        }
        error_text += line;
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        if (ec || !v.is_object()) {
          return;
        }
        try {
          print_log_event(v.as_object(), result);
        } catch (const WireError& e) {
          fmt::print(stderr, "handoff: a log event this handoff cannot read ({}): {}\n", e.what(),
                     line);
        }
      });
  if (status != 200) {
    return as_json ? 1 : report_error(status, error_text);
  }
  if (!as_json && (!result || result->result != "ok")) {
    fmt::print(stderr, "handoff: logs: {}\n",
               !result ? std::string("the proxy ended the stream")
                       : result->message.value_or("failed, without a message"));
    return 1;
  }
  return 0;
}

// One line per member, when the set has several or one is not healthy.
void print_members(const json::object& service) {
  const json::value* members = service.if_contains("members");
  if (members == nullptr || !members->is_array()) {
    return;
  }
  const json::array& list = members->as_array();
  const bool all_healthy = std::ranges::all_of(
      list, [](const json::value& m) { return str(m.as_object(), "health") == "healthy"; });
  if (list.size() < 2 && all_healthy) {
    return;
  }
  for (const json::value& v : list) {
    const json::object& m = v.as_object();
    fmt::print("{:<14} member {:<22} in flight {:<5} {}{}\n", "", str(m, "address"),
               num(m, "in_flight"), str(m, "health"),
               num(m, "connect_errors") == 0
                   ? ""
                   : fmt::format(" ({} failed connects)", num(m, "connect_errors")));
  }
}

// The canary beside the serving set, when one runs: its share, answers and members.
void print_canary(const json::object& service) {
  const json::value* c = service.if_contains("canary");
  if (c == nullptr || !c->is_object()) {
    return;
  }
  const json::object& co = c->as_object();
  fmt::print(
      "{:<14} canary {} takes {}% of clients: {} requests, {} errors (budget {}% over "
      "{}s)\n",
      "", str(co, "upstream"), co.at("percent").to_number<double>(), num(co, "requests"),
      num(co, "errors"), co.at("max_error_rate").to_number<double>() * 100.0, num(co, "window_s"));
  print_members(co);
}

void print_status(const json::object& status) {
  fmt::print("{:<14} {:<24} {:<22} {:>4} {:>9} {:<18} {:>10} {:>7}  {}\n", "SERVICE", "HOSTS",
             "UPSTREAM", "GEN", "IN-FLIGHT", "DRAINING", "REQUESTS", "ERRORS", "STATE");
  for (const json::value& v : status.at("services").as_array()) {
    const json::object& s = v.as_object();
    const std::string hosts = join_strings(s.at("hosts").as_array(), ",");
    std::string draining;
    for (const json::value& d : s.at("draining").as_array()) {
      draining += fmt::format("{}{}({})", draining.empty() ? "" : " ",
                              str(d.as_object(), "upstream"), num(d.as_object(), "in_flight"));
    }
    std::string state = str(s, "state");
    if (s.at("busy").as_bool()) {
      state += ", switching";
    }
    fmt::print("{:<14} {:<24} {:<22} {:>4} {:>9} {:<18} {:>10} {:>7}  {}\n", str(s, "name"),
               hosts.empty() ? (str(s, "name") == "default" ? "*" : "-") : hosts,
               s.at("upstream").is_null() ? "(none)" : str(s, "upstream"), num(s, "generation"),
               num(s, "in_flight"), draining.empty() ? "-" : draining, num(s, "requests"),
               num(s, "errors"), state);
    print_members(s);
    print_canary(s);
    if (const json::value* c = s.if_contains("container"); c != nullptr && c->is_object()) {
      const json::object& co = c->as_object();
      fmt::print("{:<14} container {} (image {}, id {}){}\n", "", str(co, "name"), str(co, "image"),
                 str(co, "id"), str(co, "problem").empty() ? "" : ": " + str(co, "problem"));
    }
  }
  fmt::print("uptime {}, {} client connection(s)\n",
             format_duration(milliseconds(num(status, "uptime_seconds") * 1000)),
             num(status, "connections"));
}

constexpr std::string_view kSwapUsage =
    "usage: handoff swap SERVICE --to HOST:PORT [--to HOST:PORT...] [options]\n\n"
    "Health-checks the new upstreams, switches the service to them with one atomic store, then\n"
    "drains the old ones. Several --to make a set that requests are balanced over. If a health\n"
    "gate fails nothing changes and the exit code is 1.\n\n";
constexpr std::string_view kRollbackUsage =
    "usage: handoff rollback SERVICE [options]\n\n"
    "Swaps the service back to the upstream it had before its last swap (health-gated). A\n"
    "deployed service goes back to its newest kept container: started, health-gated, swapped\n"
    "in, and the current container drained and stopped.\n\n";

constexpr std::string_view kScaleUsage =
    "usage: handoff scale SERVICE N [options]\n\n"
    "Runs N replicas of a deployed service, made as its last deploy made them (same image,\n"
    "environment and network). New replicas are started and health-gated, all or nothing,\n"
    "before they join the set; dropped ones leave it, drain and are removed. The version does\n"
    "not change: use deploy for that.\n\n";

int scale_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  ScaleRequest request;
  std::vector<Flag> flags;
  add_gate_flags(flags, request.gate, "new replicas must be healthy within (default 60s)");
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}", kScaleUsage, flags_help(flags));
    return 0;
  }
  if (words.size() != 2) {
    throw std::invalid_argument("usage: handoff scale SERVICE N");
  }
  const std::string path = service_path(words[0], "scale");
  try {
    request.replicas = parse_in_range(words[1], kReplicasRange);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("replicas: {}", e.what()));
  }
  ControlClient client(control_socket_path(common.control));
  return run_operation(client, "scale", path, request_body(request), common.json);
}

int swap_like(bool rollback, const std::vector<std::string_view>& args) {
  CommonFlags common;
  SwapRequest request;  // a rollback sends only its gate
  std::vector<Flag> flags;
  if (!rollback) {
    flags.push_back({"to", "HOST:PORT", "a member of the new upstream set; repeatable",
                     [&](std::string_view v) {
                       proxy::parse_host_port(v);  // its message names what is wrong
                       request.to.emplace_back(v);
                     }});
  }
  add_gate_flags(flags, request.gate,
                 rollback ? "start to healthy within (default 30s; 60s for a deployed service)"
                          : "the target must be healthy within (default 30s)");
  if (!rollback) {
    add_canary_flags(flags, request.canary);
  }
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}", rollback ? kRollbackUsage : kSwapUsage, flags_help(flags));
    return 0;
  }
  if (words.size() != 1) {
    throw std::invalid_argument(rollback ? "usage: handoff rollback SERVICE"
                                         : "usage: handoff swap SERVICE --to HOST:PORT");
  }
  const std::string path = service_path(words[0], rollback ? "rollback" : "swap");
  if (!rollback && request.to.empty()) {
    throw std::invalid_argument("--to HOST:PORT is required");
  }
  ControlClient client(control_socket_path(common.control));
  return run_operation(
      client, rollback ? "rollback" : "swap", path,
      rollback ? request_body(RollbackRequest{request.gate}) : request_body(request), common.json);
}

constexpr std::string_view kUpgradeUsage =
    "usage: handoff upgrade (--exec PATH | --image IMAGE) [options]\n\n"
    "Upgrades the running handoff without refusing a connection. The new binary PATH (or a\n"
    "new front container from IMAGE, configured as the running one's container) is started\n"
    "with the running process's flags and --takeover, takes its listening sockets and state\n"
    "and accepts on them; only then does the running process stop accepting, answer further\n"
    "requests with `Connection: close`, let requests in flight finish (up to\n"
    "--drain-timeout) and exit 0 (its container is then removed and the new one takes its\n"
    "name). If the new one fails, the running one serves on and the new one is removed.\n"
    "A deploy, swap or rollback in progress is waited for (or refused with --no-wait).\n\n";

int upgrade_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  UpgradeRequest request;
  std::vector<Flag> flags{
      {"exec", "PATH", "the new handoff binary (handoff runs as a process)",
       text_into(request.exec)},
      {"image", "IMAGE", "the new front-container image (handoff runs in a container)",
       text_into(request.image)},
      {"timeout", "DUR", "the new process must accept within (default 60s)",
       duration_into(request.timeout)},
      {"drain-timeout", "DUR",
       "the old process closes what is still open after (default: its --shutdown-timeout)",
       duration_into(request.drain_timeout)},
      {"no-wait", "", "refuse (409) instead of waiting for a deploy, swap or rollback",
       set_to(request.wait, false)},
  };
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}", kUpgradeUsage, flags_help(flags));
    return 0;
  }
  if (!words.empty() || request.exec.has_value() == request.image.has_value()) {
    throw std::invalid_argument("usage: handoff upgrade (--exec PATH | --image IMAGE)");
  }
  if (request.exec) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(*request.exec, ec);
    if (!ec) {
      request.exec = absolute.string();  // the proxy may run in another directory
    }
  }
  ControlClient client(control_socket_path(common.control));
  return run_operation(client, "upgrade", "/v1/upgrade", request_body(request), common.json);
}

constexpr std::string_view kDeployUsage =
    "usage: handoff deploy SERVICE --image IMAGE (--network NAME | --host-network) [options]\n\n"
    "Starts --replicas containers from IMAGE, waits until each runs and passes its health\n"
    "checks (the image's HEALTHCHECK, if any, and GET --health-path), switches SERVICE to them\n"
    "(requests are balanced over the set), drains the old containers' requests, then stops\n"
    "them (keeping --keep stopped sets for rollback). All or nothing: any failure before the\n"
    "switch removes every new container and leaves the old ones serving.\n\n";

int deploy_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  std::string auth_file;
  DeployRequest request;
  TlsFlags tls;
  std::vector<Flag> flags = {
      {"image", "IMAGE", "the image to run", text_into(request.image)},
      {"host", "NAME", "creates the service, when missing, answering this Host; repeatable",
       [&](std::string_view v) { request.hosts.emplace_back(v); }},
      {"name-prefix", "P", "containers are named P-GENERATION (default: the service name)",
       text_into(request.name_prefix)},
      {"env", "KEY=VALUE", "environment for the container; repeatable",
       [&](std::string_view v) {
         if (v.find('=') == std::string_view::npos || v.front() == '=') {
           throw std::invalid_argument(fmt::format("bad env '{}': expected KEY=VALUE", v));
         }
         request.env.emplace_back(v);
       }},
      {"port", "N", "the app's port inside its container (default 8080)",
       int_into(request.port, kPortRange)},
      {"network", "NAME", "a Docker network the proxy shares with the app",
       text_into(request.network)},
      {"host-network", "", "use the host's network; handoff picks a free port and passes PORT",
       set_to(request.host_network, true)},
      {"stop-timeout", "DUR", "grace period when stopping the old container (default 10s)",
       duration_into(request.stop_timeout)},
      {"keep", "N", "stopped sets of containers kept for rollback (default 1)",
       int_into(request.keep, kKeepRange)},
      {"replicas", "N", "containers in the new set (default: as many as serve now, or 1)",
       int_into(request.replicas, kReplicasRange)},
      {"pull", "WHEN", "pull the image: missing (default), always or never",
       text_into(request.pull)},
      {"task-port", "PORT",
       "on a swarm (handoff run --swarm): the port each task listens on, given to it as PORT; "
       "{{.Task.Slot}} in it becomes the task's slot, e.g. 190{{.Task.Slot}} (default: the "
       "last deploy's)",
       text_into(request.task_port)},
      {"registry-auth", "FILE",
       "registry credentials, a Docker config.json (default: $DOCKER_CONFIG/config.json or "
       "~/.docker/config.json when it exists)",
       [&](std::string_view v) { auth_file = v; }},
  };
  add_gate_flags(flags, request.gate, "the whole deploy, create to healthy, within (default 60s)");
  add_canary_flags(flags, request.canary);
  tls.add_to(flags);
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}", kDeployUsage, flags_help(flags));
    return 0;
  }
  if (words.size() != 1) {
    throw std::invalid_argument("usage: handoff deploy SERVICE --image IMAGE");
  }
  const std::string path = service_path(words[0], "deploy");
  if (!request.image) {
    throw std::invalid_argument("--image IMAGE is required");
  }
  if (request.network && request.host_network) {
    throw std::invalid_argument("give --network NAME or --host-network, not both");
  }
  if (request.task_port) {
    if (std::string problem = task_port_problem(*request.task_port, request.replicas.value_or(1));
        !problem.empty()) {
      throw std::invalid_argument(problem);
    }
  }
  tls.write_to(request.tls);
  // The credentials are read here, where the user's Docker config is, and travel with the
  // request: the proxy (often a container) has no access to them.
  if (std::string auth = registry_auth_for(*request.image, auth_file); !auth.empty()) {
    request.registry_auth = std::move(auth);
  }
  ControlClient client(control_socket_path(common.control));
  return run_operation(client, "deploy", path, request_body(request), common.json);
}

int status_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  std::vector<Flag> flags;
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print(
        "usage: handoff status\n\nShows each service: hosts, upstream, generation, "
        "requests in flight, upstreams still draining, requests served, errors.\n\n"
        "options:\n{}",
        flags_help(flags));
    return 0;
  }
  if (!words.empty()) {
    throw std::invalid_argument("usage: handoff status");
  }
  ControlClient client(control_socket_path(common.control));
  std::string answer;
  const int status = client.request("GET", "/v1/status", "", &answer);
  if (status != 200) {
    return report_error(status, answer);
  }
  if (common.json) {
    fmt::print("{}", answer);
  } else {
    print_status(json::parse(answer).as_object());
  }
  return 0;
}

int pause_resume(bool pause, const std::vector<std::string_view>& args) {
  CommonFlags common;
  PauseRequest request;
  std::vector<Flag> flags;
  if (pause) {
    flags.push_back({"max-pause", "DUR", "a held request gets 503 after waiting this long (30s)",
                     duration_into(request.max_pause)});
    flags.push_back(
        {"message", "TEXT", "the 503's body, e.g. a maintenance note", text_into(request.message)});
    flags.push_back({"retry-after", "DUR", "the 503's Retry-After (default 5s)",
                     duration_into(request.retry_after)});
  }
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print("{}options:\n{}",
               pause ? "usage: handoff pause SERVICE [--max-pause DUR] [--message TEXT] "
                       "[--retry-after DUR]\n\nHolds new requests "
                       "(they wait, they are not refused) until `handoff resume`.\nRequests in "
                       "flight finish.\n\n"
                     : "usage: handoff resume SERVICE\n\nReleases the requests a pause held.\n\n",
               flags_help(flags));
    return 0;
  }
  if (words.size() != 1) {
    throw std::invalid_argument(pause ? "usage: handoff pause SERVICE"
                                      : "usage: handoff resume SERVICE");
  }
  const std::string service(words[0]);
  return simple_request(common, "POST", service_path(service, pause ? "pause" : "resume"),
                        request_body(request),
                        fmt::format("{} {}", pause ? "paused" : "resumed", service));
}

// `handoff logs SERVICE [--tail N] [--follow]`: the serving container's log lines, through the
// proxy (which talks to the engine), so it works from wherever the control socket reaches.
int logs_command(const std::vector<std::string_view>& args) {
  constexpr std::string_view kUsage = "usage: handoff logs SERVICE [--tail N] [--follow]";
  CommonFlags common;
  LogsRequest request;
  std::vector<Flag> flags = {
      {"tail", "N", "how many of the last lines (default 100)", int_into(request.tail, kTailRange)},
      {"follow", "", "go on printing output as it comes, across deploys, until interrupted",
       set_to(request.follow, true)}};
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help) {
    fmt::print(
        "{}\n\nPrints the last log lines (stdout and stderr) of the container serving "
        "SERVICE.\n\noptions:\n{}",
        kUsage, flags_help(flags));
    return 0;
  }
  if (words.size() != 1) {
    throw std::invalid_argument(std::string(kUsage));
  }
  const std::string path = service_path(words[0], "logs");
  ControlClient client(control_socket_path(common.control));
  const json::object body = request_body(request);
  if (request.follow) {
    return follow_logs(client, path, body, common.json);
  }
  std::string answer;
  const int status = client.request("POST", path, json::serialize(body), &answer);
  if (status != 200) {
    return report_error(status, answer);
  }
  if (common.json) {
    fmt::print("{}", answer);
  } else {
    fmt::print("{}", str(json::parse(answer).as_object(), "logs"));
  }
  return 0;
}

constexpr std::string_view kServiceUsage =
    "usage: handoff service add NAME [--upstream HOST:PORT] [--host NAME[/PREFIX]]...\n"
    "                           [--strip-prefix] [HTTPS options]\n"
    "       handoff service update NAME [--host NAME[/PREFIX]]... [--[no-]strip-prefix]\n"
    "                           [HTTPS options]\n"
    "       handoff service list\n"
    "       handoff service remove NAME\n\n"
    "Adds, updates, lists or removes services. Requests are routed by their Host header; the\n"
    "service named `default` gets every request no other service claims. A service added\n"
    "without an upstream answers 503 until its first deploy or swap. A host may carry a path\n"
    "prefix (example.com/api, or /api on every host): the longest matching prefix wins.\n"
    "`update` replaces the hosts with one atomic store: no request goes unrouted between.\n"
    "HTTPS: --tls-cert/--tls-key give the service a certificate (sent to the proxy as PEM);\n"
    "SNI picks it for its hosts and the names in it. `update` replaces it the same way:\n"
    "new handshakes get the new one, open connections keep theirs.\n\n";

// `handoff service list`: one line per service, from the status.
int service_list(const CommonFlags& common) {
  ControlClient client(control_socket_path(common.control));
  std::string answer;
  const int status = client.request("GET", "/v1/status", "", &answer);
  if (status != 200) {
    return report_error(status, answer);
  }
  const json::object parsed = json::parse(answer).as_object();
  if (common.json) {
    fmt::print("{}\n", json::serialize(parsed.at("services")));
    return 0;
  }
  fmt::print("{:<16} {:<32} {}\n", "SERVICE", "HOSTS", "UPSTREAM");
  for (const json::value& v : parsed.at("services").as_array()) {
    const json::object& s = v.as_object();
    const std::string hosts = join_strings(s.at("hosts").as_array(), ",");
    fmt::print("{:<16} {:<32} {}\n", str(s, "name"),
               hosts.empty() ? (str(s, "name") == "default" ? "*" : "-") : hosts,
               s.at("upstream").is_null() ? "(none)" : str(s, "upstream"));
  }
  return 0;
}

int service_command(const std::vector<std::string_view>& args) {
  CommonFlags common;
  ServiceRequest request;
  TlsFlags tls;
  std::vector<Flag> flags = {
      {"max-conns-per-member", "N",
       "upstream connections in use per member, more requests queue (0: none; default: run's)",
       int_into(request.max_conns_per_member, kMaxConnsRange)},
      {"host", "NAME",
       "a Host it answers (exact or *.domain), with an optional path prefix "
       "(NAME/PREFIX, or /PREFIX on every host); repeatable",
       [&](std::string_view v) {
         request.hosts = request.hosts.value_or(std::vector<std::string>{});
         request.hosts->emplace_back(v);
       }},
      {"strip-prefix", "", "remove the matched path prefix before forwarding",
       set_to(request.strip_prefix, true)},
      {"no-strip-prefix", "", "forward the path whole (the default)",
       set_to(request.strip_prefix, false)},
      {"upstream", "HOST:PORT", "the service's first upstream", text_into(request.upstream)}};
  tls.add_to(flags);
  common.add_to(flags);
  auto words = parse_flags(args, flags);
  if (common.help || words.empty()) {
    fmt::print(common.help ? stdout : stderr, "{}options:\n{}", kServiceUsage, flags_help(flags));
    return common.help ? 0 : 2;
  }
  if (words[0] == "list" && words.size() == 1) {
    return service_list(common);
  }
  const std::string name(words.size() == 2 ? words[1] : std::string_view{});
  const std::string path = words.size() == 2 ? service_path(name) : std::string();
  if (words[0] == "add" && words.size() == 2) {
    tls.write_to(request.tls);
    request.name = name;
    const std::string upstream = request.upstream.value_or("");
    return simple_request(
        common, "POST", "/v1/services", request_body(request),
        upstream.empty() ? fmt::format("added service {} (no upstream yet: deploy or swap)", name)
                         : fmt::format("added service {} -> {}", name, upstream));
  }
  if (words[0] == "update" && words.size() == 2) {
    if ((!request.hosts && !request.strip_prefix && !tls.any() && !request.max_conns_per_member) ||
        request.upstream) {
      throw std::invalid_argument(
          "usage: handoff service update NAME [--host NAME]... [HTTPS options] (switch upstreams "
          "with swap)");
    }
    tls.write_to(request.tls);
    return simple_request(common, "PATCH", path, request_body(request),
                          fmt::format("updated service {}", name));
  }
  if (words[0] == "remove" && words.size() == 2) {
    return simple_request(common, "DELETE", path, {}, fmt::format("removed service {}", name));
  }
  throw std::invalid_argument("usage: handoff service add|update|list|remove ...");
}

}  // namespace

int control_command(std::string_view verb, const std::vector<std::string_view>& args) {
  try {
    if (verb == "status") {
      return status_command(args);
    }
    if (verb == "swap") {
      return swap_like(false, args);
    }
    if (verb == "rollback") {
      return swap_like(true, args);
    }
    if (verb == "deploy") {
      return deploy_command(args);
    }
    if (verb == "scale") {
      return scale_command(args);
    }
    if (verb == "promote") {
      return promote_command(args);
    }
    if (verb == "canary") {
      return canary_command(args);
    }
    if (verb == "upgrade") {
      return upgrade_command(args);
    }
    if (verb == "pause" || verb == "resume") {
      return pause_resume(verb == "pause", args);
    }
    if (verb == "service") {
      return service_command(args);
    }
    if (verb == "logs") {
      return logs_command(args);
    }
    return -1;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "handoff {}: {}\n", verb, e.what());
    return 2;
  } catch (const UnreachableError& e) {
    fmt::print(stderr, "handoff: {}\n", e.what());
    return 3;
  }
}

}  // namespace handoff::control
