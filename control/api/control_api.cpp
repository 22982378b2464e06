#include "control/api/control_api.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/workflows/canary_workflow.hpp"
#include "control/base/domain_error.hpp"
#include "control/protocol/duration.hpp"
#include "control/protocol/json_fields.hpp"
#include "control/workflows/log_follower.hpp"
#include "control/protocol/path_segment.hpp"
#include "control/protocol/service_name.hpp"
#include "control/registry/service_tls.hpp"
#include "control/workflows/swap_workflow.hpp"
#include "control/upgrade/upgrade_workflow.hpp"

namespace handoff::control {

namespace json = boost::json;

std::string error_body(std::string_view code, std::string_view message) {
  return json::serialize(json::object{{"error", code}, {"message", message}}) + "\n";
}

namespace {

SwapOptions swap_options(JsonFields& body, std::chrono::milliseconds deploy_timeout) {
  SwapOptions opt;
  opt.health.timeout = deploy_timeout;
  opt.health.path = body.string("health_path", false, opt.health.path);
  if (opt.health.path.empty() || opt.health.path.front() != '/') {
    throw DomainError(ErrorKind::invalid, "bad_field", "field 'health_path' must start with '/'");
  }
  opt.health.host = body.string("health_host");
  opt.health.interval = body.duration("health_interval", opt.health.interval);
  opt.health.timeout = body.duration("deploy_timeout", opt.health.timeout);
  opt.drain_timeout = body.duration("drain_timeout", opt.drain_timeout);
  opt.health.healthy_threshold = static_cast<unsigned>(
      body.integer("healthy_threshold", kThresholdRange, opt.health.healthy_threshold));
  opt.health.enabled = body.boolean("health_check", opt.health.enabled);
  opt.health.unhealthy_threshold = static_cast<unsigned>(
      body.integer("unhealthy_threshold", kThresholdRange, opt.health.unhealthy_threshold));
  return opt;
}

// The canary fields of a swap or deploy: "canary" (its share) and how it is judged.
void read_canary_fields(JsonFields& body, SwapOptions& opt) {
  CanaryPolicy& p = opt.canary_policy;
  const bool judged = body.has("max_error_rate") || body.has("window") ||
                      body.has("min_requests") || body.has("bake");
  if (!body.has("canary")) {
    if (judged) {
      throw DomainError(ErrorKind::invalid, "bad_field",
                        "max_error_rate, window, min_requests and bake go with canary");
    }
    return;
  }
  opt.canary_share = body.percent("canary", 0);
  p.max_error_rate = body.percent("max_error_rate", 100) / 10'000.0;
  p.window_s = std::chrono::duration_cast<std::chrono::seconds>(
                   body.duration("window", std::chrono::seconds(p.window_s)))
                   .count();
  p.min_requests = body.integer("min_requests", kMinRequestsRange, p.min_requests);
  p.bake_s = std::chrono::duration_cast<std::chrono::seconds>(
                 body.duration("bake", std::chrono::seconds(p.bake_s)))
                 .count();
  if (p.window_s < 1) {
    throw DomainError(ErrorKind::invalid, "bad_field", "field 'window' must be 1s or more");
  }
}

DeployOptions deploy_options(JsonFields& body) {
  DeployOptions opt;
  opt.swap = swap_options(body, std::chrono::seconds(60));
  read_canary_fields(body, opt.swap);
  opt.image = body.string("image", true);
  opt.name_prefix = body.string("name_prefix");
  opt.network = body.string("network");
  opt.port = static_cast<int>(body.integer("port", kPortRange, opt.port));
  opt.keep = static_cast<int>(body.integer("keep", kKeepRange, opt.keep));
  opt.replicas = static_cast<int>(body.integer("replicas", kReplicasRange, 0));
  opt.stop_timeout = std::chrono::duration_cast<std::chrono::seconds>(
      body.duration("stop_timeout", opt.stop_timeout));
  opt.host_network = body.boolean("host_network", opt.host_network);
  opt.env = body.strings("env", "\"KEY=VALUE\"");
  opt.pull = body.string("pull", false, opt.pull);
  opt.registry_auth = body.string("registry_auth");
  return opt;
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
    if (tls.changes(registry_.tls(name))) {
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
  const ContainerRef current = registry_.container(name);
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
  JsonFields body(text);
  UpgradeOptions options;
  options.exec = body.string("exec");
  options.image = body.string("image");
  options.timeout = body.duration("timeout", options.timeout);
  options.drain_timeout = body.duration("drain_timeout", server_.config().shutdown_timeout);
  options.wait = body.boolean("wait", options.wait);
  body.finish();
  return operation(prepare_upgrade(*succession_, registry_, options));
}

// POST /v1/services
ApiResponse ControlApi::add_service(std::string_view text) {
  JsonFields body(text);
  const std::vector<std::string> hosts = body.strings("hosts", "host names");
  const std::string name = body.string("name", true);
  const std::string upstream = body.string("upstream");
  const bool strip = body.boolean("strip_prefix", false);
  const TlsChange tls = TlsChange::read(body);
  std::optional<std::size_t> max_conns;
  if (body.has("max_conns_per_member")) {
    max_conns = static_cast<std::size_t>(body.integer("max_conns_per_member", kMaxConnsRange, 0));
  }
  body.finish();
  registry_.add(name, hosts, upstream, strip, tls, max_conns);
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
  JsonFields body(text);
  ServiceChange change;
  if (body.has("hosts")) {
    change.hosts = body.strings("hosts", "host names");
  }
  if (body.has("strip_prefix")) {
    change.strip_prefix = body.boolean("strip_prefix", false);
  }
  change.tls = TlsChange::read(body);
  if (body.has("max_conns_per_member")) {
    change.max_conns =
        static_cast<std::size_t>(body.integer("max_conns_per_member", kMaxConnsRange, 0));
  }
  body.finish();
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
  JsonFields body(text);
  if (action == "swap") {
    const std::vector<std::string> to = body.one_or_more("to", "upstream addresses", true);
    SwapOptions options = swap_options(body, std::chrono::seconds(30));
    read_canary_fields(body, options);
    body.finish();
    return operation(prepare_swap(registry_, server_, name, to, options));
  }
  if (action == "deploy") {
    const DeployOptions options = deploy_options(body);
    const std::vector<std::string> hosts = body.strings("hosts", "host names");
    const TlsChange tls = TlsChange::read(body);
    body.finish();
    return operation(deploy_creating(name, hosts, tls, options));
  }
  if (action == "rollback") {
    return roll_back(name, body);
  }
  if (action == "scale") {
    const auto replicas = static_cast<int>(body.integer("replicas", kReplicasRange, 0));
    if (replicas == 0) {
      throw DomainError(ErrorKind::invalid, "missing_field", "field 'replicas' is required");
    }
    const SwapOptions options = swap_options(body, std::chrono::seconds(60));
    body.finish();
    return operation(prepare_scale(registry_, server_, engines_, name, replicas, options));
  }
  if (action == "promote") {
    DeployOptions options;
    options.swap.drain_timeout = body.duration("drain_timeout", options.swap.drain_timeout);
    options.stop_timeout = std::chrono::duration_cast<std::chrono::seconds>(
        body.duration("stop_timeout", options.stop_timeout));
    options.keep = static_cast<int>(body.integer("keep", kKeepRange, options.keep));
    body.finish();
    return operation(prepare_promote(registry_, server_, engines_, name, options));
  }
  if (action == "canary") {
    if (!body.has("percent")) {
      throw DomainError(ErrorKind::invalid, "missing_field", "field 'percent' is required");
    }
    const std::uint32_t share = body.percent("percent", 0);
    body.finish();
    registry_.set_canary_share(name, share);
    return json_reply(200, json::object{{"result", "ok"},
                                        {"service", name},
                                        {"percent", static_cast<double>(share) / 100.0}});
  }
  if (action == "logs") {
    const auto tail = static_cast<int>(body.integer("tail", kTailRange, 100));
    const bool follow = body.boolean("follow", false);
    body.finish();
    return follow ? operation(prepare_log_follow(registry_, engines_, name, tail, shutting_down_))
                  : json_reply(200, container_logs(name, tail));
  }
  if (action == "pause" || action == "resume") {
    return pause_or_resume(name, action == "pause", body);
  }
  return std::nullopt;
}

// A deployed service rolls back to its newest kept container; another to its previous upstream.
ApiResponse ControlApi::roll_back(const std::string& name, JsonFields& body) {
  if (registry_.canary(name)) {  // a canary runs: it is what is rolled back
    DeployOptions opt;
    opt.swap.drain_timeout = body.duration("drain_timeout", opt.swap.drain_timeout);
    try {
      body.finish();
    } catch (const DomainError& e) {
      throw DomainError(e.kind(), e.code(),
                        fmt::format("a canary runs on '{}': rollback ends it, and takes only "
                                    "--drain-timeout ({})",
                                    name, e.what()));
    }
    return operation(
        prepare_canary_rollback(registry_, server_, engines_, name, opt, "rolled back by hand"));
  }
  if (!registry_.container(name).id.empty()) {
    DeployOptions opt;
    opt.swap = swap_options(body, std::chrono::seconds(60));
    body.finish();
    return operation(prepare_container_rollback(registry_, server_, engines_, name, opt));
  }
  const SwapOptions options = swap_options(body, std::chrono::seconds(30));
  body.finish();
  return operation(prepare_rollback(registry_, server_, name, options));
}

ApiResponse ControlApi::pause_or_resume(const std::string& name, bool pause, JsonFields& body) {
  if (pause) {
    auto max_pause = body.duration("max_pause", std::chrono::seconds(30));
    proxy::PauseNotice notice;
    notice.message = body.string("message");
    notice.retry_after = std::chrono::duration_cast<std::chrono::seconds>(
        body.duration("retry_after", notice.retry_after));
    body.finish();
    registry_.pause(name, max_pause, std::move(notice));
  } else {
    body.finish();
    registry_.resume(name);
  }
  return json_reply(200, json::object{{"result", "ok"}, {"service", name}, {"paused", pause}});
}

}  // namespace handoff::control
