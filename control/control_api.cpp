#include "control/control_api.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/api_error.hpp"
#include "control/duration.hpp"
#include "control/json_fields.hpp"
#include "control/log_follower.hpp"
#include "control/swap_workflow.hpp"

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
    throw ApiError(400, "bad_field", "field 'health_path' must start with '/'");
  }
  opt.health.host = body.string("health_host");
  opt.health.interval = body.duration("health_interval", opt.health.interval);
  opt.health.timeout = body.duration("deploy_timeout", opt.health.timeout);
  opt.drain_timeout = body.duration("drain_timeout", opt.drain_timeout);
  opt.health.healthy_threshold = static_cast<unsigned>(
      body.integer("healthy_threshold", 1, 100, opt.health.healthy_threshold));
  opt.health.enabled = body.boolean("health_check", opt.health.enabled);
  return opt;
}

DeployOptions deploy_options(JsonFields& body) {
  DeployOptions opt;
  opt.swap = swap_options(body, std::chrono::seconds(60));
  opt.image = body.string("image", true);
  opt.name_prefix = body.string("name_prefix");
  opt.network = body.string("network");
  opt.port = static_cast<int>(body.integer("port", 1, 65535, opt.port));
  opt.keep = static_cast<int>(body.integer("keep", 0, 100, opt.keep));
  opt.stop_timeout = std::chrono::duration_cast<std::chrono::seconds>(
      body.duration("stop_timeout", opt.stop_timeout));
  opt.host_network = body.boolean("host_network", opt.host_network);
  opt.env = body.strings("env", "\"KEY=VALUE\"");
  opt.pull = body.string("pull", false, opt.pull);
  opt.registry_auth = body.string("registry_auth");
  return opt;
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
                                      const std::vector<std::string>& hosts,
                                      const DeployOptions& options) {
  if (registry_.exists(name)) {
    if (!hosts.empty() && !registry_.has_hosts(name, hosts)) {
      throw ApiError(400, "bad_field",
                     fmt::format("service '{}' exists: change its hosts with `handoff service "
                                 "update`",
                                 name));
    }
    return prepare_deploy(registry_, server_, engines_, name, options);
  }
  registry_.add(name, hosts, "");
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
    if (result.status != 200) {
      try {
        registry_.remove(name);
      } catch (const ApiError&) {
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
    throw ApiError(409, "no_container",
                   fmt::format("service '{}' does not run in a container handoff deployed", name));
  }
  std::unique_ptr<containers::Engine> engine;
  try {
    engine = engines_();
    return json::object{
        {"service", name}, {"container", current.name}, {"logs", engine->logs(current.id, tail)}};
  } catch (const containers::EngineError& e) {
    throw ApiError(e.status() == 404 ? 409 : 503, "engine_error", e.what());
  }
}

ApiResponse ControlApi::handle(const ApiRequest& request) {
  if (shutting_down_) {
    return ApiResponse{
        503, error_body("shutting_down", "the proxy is shutting down"), "application/json", {}};
  }
  try {
    return route(request);
  } catch (const ApiError& e) {
    return ApiResponse{e.status(), error_body(e.code(), e.what()), "application/json", {}};
  } catch (const std::exception& e) {
    return ApiResponse{500, error_body("internal", e.what()), "application/json", {}};
  }
}

ApiResponse ControlApi::route(const ApiRequest& req) {
  const std::string& m = req.method;
  std::string_view path = req.path;
  if (path == "/v1/status") {
    if (m != "GET") {
      throw ApiError(405, "method_not_allowed", "use GET");
    }
    return json_reply(200, registry_.status());
  }
  if (path == "/metrics") {
    if (m != "GET") {
      throw ApiError(405, "method_not_allowed", "use GET");
    }
    return ApiResponse{200, registry_.metrics(), "text/plain; version=0.0.4", {}};
  }
  if (path == "/v1/services") {
    if (m != "POST") {
      throw ApiError(405, "method_not_allowed", "use POST to add a service");
    }
    JsonFields body(req.body);
    const std::vector<std::string> hosts = body.strings("hosts", "host names");
    const std::string name = body.string("name", true);
    const std::string upstream = body.string("upstream");
    const bool strip = body.boolean("strip_prefix", false);
    body.finish();
    registry_.add(name, hosts, upstream, strip);
    return json_reply(201, json::object{{"result", "ok"}, {"service", name}});
  }
  constexpr std::string_view prefix = "/v1/services/";
  if (path.substr(0, prefix.size()) == prefix) {
    std::string_view rest = path.substr(prefix.size());
    std::size_t slash = rest.find('/');
    const std::string name(rest.substr(0, slash));
    const std::string action(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    if (action.empty() && m == "PATCH") {
      JsonFields body(req.body);
      if (!body.has("hosts")) {
        throw ApiError(400, "missing_field", "field 'hosts' is required");
      }
      const std::vector<std::string> hosts = body.strings("hosts", "host names");
      std::optional<bool> strip;
      if (body.has("strip_prefix")) {
        strip = body.boolean("strip_prefix", false);
      }
      body.finish();
      registry_.update_hosts(name, hosts, strip);
      return json_reply(200, json::object{{"result", "ok"}, {"service", name}});
    }
    if (action.empty()) {
      if (m != "DELETE") {
        throw ApiError(405, "method_not_allowed",
                       "use PATCH to update a service, DELETE to remove it");
      }
      JsonFields(req.body).finish();
      registry_.remove(name);
      return json_reply(200, json::object{{"result", "ok"}, {"service", name}});
    }
    if (m != "POST") {
      throw ApiError(405, "method_not_allowed", "use POST");
    }
    JsonFields body(req.body);
    if (action == "swap") {
      const std::string to = body.string("to", true);
      const SwapOptions options = swap_options(body, std::chrono::seconds(30));
      body.finish();
      return ApiResponse{
          200, {}, "application/x-ndjson", prepare_swap(registry_, server_, name, to, options)};
    }
    if (action == "deploy") {
      const DeployOptions options = deploy_options(body);
      const std::vector<std::string> hosts = body.strings("hosts", "host names");
      body.finish();
      return ApiResponse{200, {}, "application/x-ndjson", deploy_creating(name, hosts, options)};
    }
    if (action == "rollback") {
      if (!registry_.container(name).id.empty()) {
        // A deployed service rolls back to its newest kept container.
        DeployOptions opt;
        opt.swap = swap_options(body, std::chrono::seconds(60));
        body.finish();
        return ApiResponse{200,
                           {},
                           "application/x-ndjson",
                           prepare_container_rollback(registry_, server_, engines_, name, opt)};
      }
      const SwapOptions options = swap_options(body, std::chrono::seconds(30));
      body.finish();
      return ApiResponse{
          200, {}, "application/x-ndjson", prepare_rollback(registry_, server_, name, options)};
    }
    if (action == "logs") {
      const auto tail = static_cast<int>(body.integer("tail", 0, 100'000, 100));
      const bool follow = body.boolean("follow", false);
      body.finish();
      if (follow) {
        return ApiResponse{200, {}, "application/x-ndjson",
                           prepare_log_follow(registry_, engines_, name, tail, shutting_down_)};
      }
      return json_reply(200, container_logs(name, tail));
    }
    if (action == "pause") {
      auto max_pause = body.duration("max_pause", std::chrono::seconds(30));
      proxy::PauseNotice notice;
      notice.message = body.string("message");
      notice.retry_after = std::chrono::duration_cast<std::chrono::seconds>(
          body.duration("retry_after", notice.retry_after));
      body.finish();
      registry_.pause(name, max_pause, std::move(notice));
      return json_reply(200, json::object{{"result", "ok"}, {"service", name}, {"paused", true}});
    }
    if (action == "resume") {
      body.finish();
      registry_.resume(name);
      return json_reply(200, json::object{{"result", "ok"}, {"service", name}, {"paused", false}});
    }
  }
  throw ApiError(404, "not_found", fmt::format("no endpoint {} {}", m, path));
}

}  // namespace handoff::control
