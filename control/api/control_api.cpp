#include "control/api/control_api.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/base/domain_error.hpp"
#include "control/protocol/duration.hpp"
#include "control/protocol/json_fields.hpp"
#include "control/protocol/path_segment.hpp"
#include "control/protocol/requests.hpp"
#include "control/protocol/service_name.hpp"
#include "control/registry/service_tls.hpp"
#include "control/upgrade/upgrade_workflow.hpp"
#include "control/workflows/canary_workflow.hpp"
#include "control/workflows/log_follower.hpp"
#include "control/workflows/swap_workflow.hpp"

namespace handoff::control {

namespace json = boost::json;

std::string error_body(std::string_view code, std::string_view message) {
  return json::serialize(json::object{{"error", code}, {"message", message}}) + "\n";
}

namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

// A switch's settings from its request: what the request does not set keeps its default.
SwapOptions swap_options(const GateRequest& gate, std::chrono::milliseconds deploy_timeout) {
  SwapOptions opt;
  opt.health.timeout = gate.deploy_timeout.value_or(deploy_timeout);
  opt.health.path = gate.health_path.value_or(opt.health.path);
  if (opt.health.path.empty() || opt.health.path.front() != '/') {
    throw DomainError(ErrorKind::invalid, "bad_field", "field 'health_path' must start with '/'");
  }
  opt.health.host = gate.health_host.value_or("");
  opt.health.interval = gate.health_interval.value_or(opt.health.interval);
  opt.drain_timeout = gate.drain_timeout.value_or(opt.drain_timeout);
  opt.health.healthy_threshold =
      static_cast<unsigned>(gate.healthy_threshold.value_or(opt.health.healthy_threshold));
  opt.health.enabled = gate.health_check.value_or(opt.health.enabled);
  opt.health.unhealthy_threshold =
      static_cast<unsigned>(gate.unhealthy_threshold.value_or(opt.health.unhealthy_threshold));
  return opt;
}

// The canary of a swap or deploy: its share, and how it is judged.
void apply_canary(const CanaryRequest& canary, SwapOptions& opt) {
  if (!canary.canary) {
    if (canary.judged()) {
      throw DomainError(ErrorKind::invalid, "bad_field",
                        "max_error_rate, window, min_requests and bake go with canary");
    }
    return;
  }
  CanaryPolicy& p = opt.canary_policy;
  opt.canary_share = canary.canary->hundredths;
  p.max_error_rate = canary.max_error_rate.value_or(Percent{100}).hundredths / 10'000.0;
  p.window_s = duration_cast<seconds>(canary.window.value_or(seconds(p.window_s))).count();
  p.min_requests = canary.min_requests.value_or(p.min_requests);
  p.bake_s = duration_cast<seconds>(canary.bake.value_or(seconds(p.bake_s))).count();
  if (p.window_s < 1) {
    throw DomainError(ErrorKind::invalid, "bad_field", "field 'window' must be 1s or more");
  }
}

DeployOptions deploy_options(const DeployRequest& request) {
  DeployOptions opt;
  opt.swap = swap_options(request.gate, seconds(60));
  apply_canary(request.canary, opt.swap);
  if (!request.image) {
    throw DomainError(ErrorKind::invalid, "missing_field", "field 'image' is required");
  }
  opt.image = *request.image;
  opt.name_prefix = request.name_prefix.value_or("");
  opt.network = request.network.value_or("");
  opt.port = static_cast<int>(request.port.value_or(opt.port));
  opt.keep = static_cast<int>(request.keep.value_or(opt.keep));
  opt.replicas = static_cast<int>(request.replicas.value_or(0));
  opt.stop_timeout = duration_cast<seconds>(request.stop_timeout.value_or(opt.stop_timeout));
  opt.host_network = request.host_network.value_or(opt.host_network);
  opt.env = request.env;
  opt.pull = request.pull.value_or(opt.pull);
  opt.registry_auth = request.registry_auth.value_or("");
  opt.task_port = request.task_port.value_or("");
  return opt;
}

// A deploy names where its containers run in the words of where handoff runs: a swarm's tasks
// are on the hosts' network with --task-port; a container's on --network or --host-network.
void check_deploy_target(const DeployRequest& request, bool on_swarm) {
  if (on_swarm && (request.network || request.host_network)) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      "on a swarm, tasks use their hosts' network: give --task-port, not "
                      "'network' or 'host_network'");
  }
  if (on_swarm && request.canary.canary) {
    throw DomainError(ErrorKind::invalid, "not_on_swarm",
                      "canaries are not yet run on a swarm: deploy without --canary");
  }
  if (!on_swarm && request.task_port) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      "field 'task_port' is for a swarm (handoff run --swarm)");
  }
  if (!on_swarm && request.network.has_value() == request.host_network.value_or(false)) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      "give one of --network NAME (a network the proxy shares with the app) or "
                      "--host-network");
  }
}

// What a node that follows a swarm does not do on its own: its services serve what the swarm's
// records say, and a change made here alone would be undone at the next look.
void refuse_on_swarm(const std::string& action) {
  if (action == "swap" || action == "promote" || action == "canary") {
    throw DomainError(ErrorKind::invalid, "not_on_swarm",
                      fmt::format("'{}' is not yet run on a swarm: this node follows the swarm's "
                                  "records (deploy and rollback change them)",
                                  action));
  }
  if (action == "scale") {
    throw DomainError(ErrorKind::invalid, "not_on_swarm",
                      "on a swarm, change the number of tasks with `handoff deploy SERVICE "
                      "--image IMAGE --replicas N`: a new version, gated and switched like any "
                      "deploy");
  }
}

// `reply` with a "warnings" array when there are any: what was done but may not be meant.
json::object with_warnings(json::object reply, const std::vector<std::string>& warnings) {
  if (!warnings.empty()) {
    json::array list;
    for (const std::string& w : warnings) {
      list.emplace_back(w);
    }
    reply["warnings"] = std::move(list);
  }
  return reply;
}

ApiResponse json_reply(int status, const json::value& v) {
  return ApiResponse{status, json::serialize(v) + "\n", "application/json", {}};
}

}  // namespace

// A deploy to a service that does not exist yet creates it with `hosts` (kamal-proxy's habit);
// when that deploy fails, the service it created goes away again, so nothing is left half made.
// Repeating the same command is accepted (the hosts match): after a crash cut the first deploy
// short, the service exists and running the command again must still work.
Operation ControlApi::deploy_creating(const std::string& name,
                                      const std::vector<std::string>& hosts, const TlsChange& tls,
                                      const DeployOptions& options) {
  if (registry_.exists(name)) {
    if (!hosts.empty() && !registry_.has_hosts(name, hosts)) {
      throw DomainError(ErrorKind::invalid, "bad_field",
                        fmt::format("service '{}' exists: change its hosts with `handoff service "
                                    "update`",
                                    name));
    }
    if (tls.changes(registry_.view(name).route.tls)) {
      throw DomainError(ErrorKind::invalid, "bad_field",
                        fmt::format("service '{}' exists: change its HTTPS settings with "
                                    "`handoff service update`",
                                    name));
    }
    return prepare_deploy(registry_, server_, engines_, name, options);
  }
  registry_.add(name, hosts, "", false, tls);
  Operation deploy;
  try {
    deploy = prepare_deploy(registry_, server_, engines_, name, options);
  } catch (...) {
    registry_.remove(name);
    throw;
  }
  return [this, name, deploy = std::move(deploy)](EventSink& sink) mutable {
    OperationResult result = deploy(sink);
    deploy = nullptr;  // lets go of the service's workflow claim
    if (result.failure) {
      try {
        registry_.remove(name);
      } catch (const DomainError&) {
        // Already gone, or another workflow claimed it meanwhile: leave it as it is.
      }
    }
    return result;
  };
}

// The last `tail` lines of the service's serving container, through the engine.
json::object ControlApi::container_logs(const std::string& name, int tail) {
  const ContainerRef current = registry_.view(name).first_container();
  if (current.id.empty()) {
    throw DomainError(
        ErrorKind::conflict, "no_container",
        fmt::format("service '{}' does not run in a container handoff deployed", name));
  }
  std::unique_ptr<containers::Engine> engine;
  try {
    engine = engines_();
    return json::object{
        {"service", name}, {"container", current.name}, {"logs", engine->logs(current.id, tail)}};
  } catch (const containers::EngineError& e) {
    throw DomainError(e.status() == 404 ? ErrorKind::conflict : ErrorKind::unavailable,
                      "engine_error", e.what());
  }
}

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid:
      return 400;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::method_not_allowed:
      return 405;
    case ErrorKind::conflict:
      return 409;
    case ErrorKind::check_failed:
      return 422;
    case ErrorKind::engine_failed:
      return 502;
    case ErrorKind::unavailable:
      return 503;
    case ErrorKind::not_saved:
      return 507;  // Insufficient Storage (RFC 4918 §11.5)
    case ErrorKind::internal:
      break;
  }
  return 500;
}

ApiResponse ControlApi::handle(const ApiRequest& request) {
  if (shutting_down_) {
    return ApiResponse{
        503, error_body("shutting_down", "the proxy is shutting down"), "application/json", {}};
  }
  try {
    return route(request);
  } catch (const DomainError& e) {
    return ApiResponse{
        http_status(e.kind()), error_body(e.code(), e.what()), "application/json", {}};
  } catch (const std::exception& e) {
    return ApiResponse{500, error_body("internal", e.what()), "application/json", {}};
  }
}

namespace {

// The answer to a call that runs as a long operation (NDJSON events, then the result).
ApiResponse operation(Operation op) {
  return ApiResponse{200, {}, "application/x-ndjson", std::move(op)};
}

}  // namespace

namespace {

// The service a path names: its segment decoded and checked against the service-name rule, so
// that no name can stand for another path (400 otherwise).
std::string service_name_segment(std::string_view segment) {
  std::optional<std::string> name = percent_decode_segment(segment);
  if (!name) {
    throw DomainError(ErrorKind::invalid, "bad_name", "malformed percent-escape in the path");
  }
  if (std::string problem = service_name_problem(*name); !problem.empty()) {
    throw DomainError(ErrorKind::invalid, "bad_name", problem);
  }
  return std::move(*name);
}

}  // namespace

ApiResponse ControlApi::route(const ApiRequest& req) {
  const std::string& m = req.method;
  std::string_view path = req.path;
  if (path == "/v1/status" || path == "/metrics") {
    if (m != "GET") {
      throw DomainError(ErrorKind::method_not_allowed, "method_not_allowed", "use GET");
    }
    return path == "/metrics"
               ? ApiResponse{200, registry_.metrics(), "text/plain; version=0.0.4", {}}
               : json_reply(200, registry_.status());
  }
  if (path == "/v1/upgrade") {
    if (m != "POST") {
      throw DomainError(ErrorKind::method_not_allowed, "method_not_allowed", "use POST");
    }
    return upgrade(req.body);
  }
  if (path == "/v1/services") {
    if (m != "POST") {
      throw DomainError(ErrorKind::method_not_allowed, "method_not_allowed",
                        "use POST to add a service");
    }
    return add_service(req.body);
  }
  constexpr std::string_view prefix = "/v1/services/";
  if (path.substr(0, prefix.size()) == prefix) {
    std::string_view rest = path.substr(prefix.size());
    const std::size_t slash = rest.find('/');
    const std::string name = service_name_segment(rest.substr(0, slash));
    const std::string action(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    if (action.empty()) {
      return change_service(m, name, req.body);
    }
    if (m != "POST") {
      throw DomainError(ErrorKind::method_not_allowed, "method_not_allowed", "use POST");
    }
    if (auto reply = service_action(name, action, req.body)) {
      return std::move(*reply);
    }
  }
  throw DomainError(ErrorKind::not_found, "not_found", fmt::format("no endpoint {} {}", m, path));
}

// POST /v1/upgrade
ApiResponse ControlApi::upgrade(std::string_view text) {
  if (succession_ == nullptr) {
    throw DomainError(ErrorKind::not_found, "not_found", "this handoff cannot upgrade itself");
  }
  const auto request = read_request<UpgradeRequest>(text);
  UpgradeOptions options;
  options.exec = request.exec.value_or("");
  options.image = request.image.value_or("");
  options.timeout = request.timeout.value_or(options.timeout);
  options.drain_timeout = request.drain_timeout.value_or(server_.config().shutdown_timeout);
  options.wait = request.wait.value_or(options.wait);
  return operation(prepare_upgrade(*succession_, registry_, options));
}

// POST /v1/services
ApiResponse ControlApi::add_service(std::string_view text) {
  const auto request = read_request<ServiceRequest>(text);
  if (!request.name) {
    throw DomainError(ErrorKind::invalid, "missing_field", "field 'name' is required");
  }
  const std::string& name = *request.name;
  std::optional<std::size_t> max_conns;
  if (request.max_conns_per_member) {
    max_conns = static_cast<std::size_t>(*request.max_conns_per_member);
  }
  registry_.add(name, request.hosts.value_or(std::vector<std::string>{}),
                request.upstream.value_or(""), request.strip_prefix.value_or(false),
                TlsChange::from(request.tls), max_conns);
  return json_reply(201, with_warnings(json::object{{"result", "ok"}, {"service", name}},
                                       registry_.certificate_warnings(name)));
}

// PATCH (hosts, prefix stripping, HTTPS settings) or DELETE /v1/services/NAME
ApiResponse ControlApi::change_service(const std::string& method, const std::string& name,
                                       std::string_view text) {
  if (method == "DELETE") {
    JsonFields(text).finish();
    registry_.remove(name);
    return json_reply(200, json::object{{"result", "ok"}, {"service", name}});
  }
  if (method != "PATCH") {
    throw DomainError(ErrorKind::method_not_allowed, "method_not_allowed",
                      "use PATCH to update a service, DELETE to remove it");
  }
  const auto request = read_request<ServiceRequest>(text);
  if (request.name || request.upstream) {
    throw DomainError(ErrorKind::invalid, "unknown_field",
                      request.name ? "unknown field 'name'" : "unknown field 'upstream'");
  }
  ServiceChange change;
  change.hosts = request.hosts;
  change.strip_prefix = request.strip_prefix;
  change.tls = TlsChange::from(request.tls);
  if (request.max_conns_per_member) {
    change.max_conns = static_cast<std::size_t>(*request.max_conns_per_member);
  }
  if (!change.hosts && !change.strip_prefix && change.tls.empty() && !change.max_conns) {
    throw DomainError(ErrorKind::invalid, "missing_field",
                      "nothing to change: give hosts, strip_prefix, max_conns_per_member or an "
                      "HTTPS setting");
  }
  registry_.update(name, std::move(change));
  return json_reply(200, with_warnings(json::object{{"result", "ok"}, {"service", name}},
                                       registry_.certificate_warnings(name)));
}

// POST /v1/services/NAME/ACTION; empty for an unknown action.
std::optional<ApiResponse> ControlApi::service_action(const std::string& name,
                                                      const std::string& action,
                                                      std::string_view text) {
  if (swarm_ != nullptr) {
    refuse_on_swarm(action);
  }
  if (action == "swap") {
    const auto request = read_request<SwapRequest>(text);
    if (request.to.empty()) {
      throw DomainError(ErrorKind::invalid, "missing_field", "field 'to' is required");
    }
    SwapOptions options = swap_options(request.gate, seconds(30));
    apply_canary(request.canary, options);
    return operation(prepare_swap(registry_, server_, name, request.to, options));
  }
  if (action == "deploy") {
    const auto request = read_request<DeployRequest>(text);
    check_deploy_target(request, swarm_ != nullptr);
    if (swarm_ != nullptr) {
      return operation(prepare_swarm_deploy(*swarm_, swarm_engines_, name, request.hosts,
                                            deploy_options(request)));
    }
    return operation(deploy_creating(name, request.hosts, TlsChange::from(request.tls),
                                     deploy_options(request)));
  }
  if (action == "rollback") {
    return roll_back(name, read_request<RollbackRequest>(text));
  }
  if (action == "scale") {
    const auto request = read_request<ScaleRequest>(text);
    if (!request.replicas) {
      throw DomainError(ErrorKind::invalid, "missing_field", "field 'replicas' is required");
    }
    return operation(prepare_scale(registry_, server_, engines_, name,
                                   static_cast<int>(*request.replicas),
                                   swap_options(request.gate, seconds(60))));
  }
  if (action == "promote") {
    const auto request = read_request<PromoteRequest>(text);
    DeployOptions options;
    options.swap.drain_timeout = request.drain_timeout.value_or(options.swap.drain_timeout);
    options.stop_timeout =
        duration_cast<seconds>(request.stop_timeout.value_or(options.stop_timeout));
    options.keep = static_cast<int>(request.keep.value_or(options.keep));
    return operation(prepare_promote(registry_, server_, engines_, name, options));
  }
  return other_action(name, action, text);
}

// The service actions that are not workflows: canary share, logs, pause and resume.
std::optional<ApiResponse> ControlApi::other_action(const std::string& name,
                                                    const std::string& action,
                                                    std::string_view text) {
  if (action == "canary") {
    const auto request = read_request<CanaryShareRequest>(text);
    if (!request.percent) {
      throw DomainError(ErrorKind::invalid, "missing_field", "field 'percent' is required");
    }
    registry_.set_canary_share(name, request.percent->hundredths);
    return json_reply(200, json::object{{"result", "ok"},
                                        {"service", name},
                                        {"percent", request.percent->hundredths / 100.0}});
  }
  if (action == "logs") {
    const auto request = read_request<LogsRequest>(text);
    const auto tail = static_cast<int>(request.tail.value_or(100));
    return request.follow.value_or(false)
               ? operation(prepare_log_follow(registry_, engines_, name, tail, shutting_down_))
               : json_reply(200, container_logs(name, tail));
  }
  if (action == "pause") {
    return pause(name, read_request<PauseRequest>(text));
  }
  if (action == "resume") {
    JsonFields(text).finish();
    registry_.resume(name);
    return json_reply(200, json::object{{"result", "ok"}, {"service", name}, {"paused", false}});
  }
  return std::nullopt;
}

// A deployed service rolls back to its newest kept container; another to its previous upstream.
ApiResponse ControlApi::roll_back(const std::string& name, const RollbackRequest& request) {
  if (swarm_ != nullptr) {
    DeployOptions opt;
    opt.swap = swap_options(request.gate, seconds(60));
    return operation(prepare_swarm_rollback(*swarm_, swarm_engines_, name, opt));
  }
  if (registry_.view(name).canary) {  // a canary runs: it is what is rolled back
    for (const std::string_view field : set_field_names(request)) {
      if (field != "drain_timeout") {
        throw DomainError(ErrorKind::invalid, "unknown_field",
                          fmt::format("a canary runs on '{}': rollback ends it, and takes only "
                                      "--drain-timeout (unknown field '{}')",
                                      name, field));
      }
    }
    DeployOptions opt;
    opt.swap.drain_timeout = request.gate.drain_timeout.value_or(opt.swap.drain_timeout);
    return operation(
        prepare_canary_rollback(registry_, server_, engines_, name, opt, "rolled back by hand"));
  }
  if (!registry_.view(name).first_container().id.empty()) {
    DeployOptions opt;
    opt.swap = swap_options(request.gate, seconds(60));
    return operation(prepare_container_rollback(registry_, server_, engines_, name, opt));
  }
  return operation(
      prepare_rollback(registry_, server_, name, swap_options(request.gate, seconds(30))));
}

ApiResponse ControlApi::pause(const std::string& name, const PauseRequest& request) {
  proxy::PauseNotice notice;
  notice.message = request.message.value_or("");
  notice.retry_after = duration_cast<seconds>(request.retry_after.value_or(notice.retry_after));
  registry_.pause(name, request.max_pause.value_or(seconds(30)), std::move(notice));
  return json_reply(200, json::object{{"result", "ok"}, {"service", name}, {"paused", true}});
}

}  // namespace handoff::control
