#include "control/control_api.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/api_error.hpp"
#include "control/duration.hpp"
#include "control/swap_workflow.hpp"

namespace handoff::control {

namespace json = boost::json;

std::string error_body(std::string_view code, std::string_view message) {
  return json::serialize(json::object{{"error", code}, {"message", message}}) + "\n";
}

namespace {

// The request body as a JSON object ({} when empty).
json::object parse_body(const std::string& body) {
  if (body.empty()) {
    return {};
  }
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    throw ApiError(400, "bad_json", "the request body must be a JSON object");
  }
  return v.as_object();
}

const json::value* field(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::string get_string(const json::object& o, std::string_view key, bool required,
                       std::string fallback = {}) {
  const json::value* v = field(o, key);
  if (v == nullptr) {
    if (required) {
      throw ApiError(400, "missing_field", fmt::format("field '{}' is required", key));
    }
    return fallback;
  }
  if (!v->is_string()) {
    throw ApiError(400, "bad_field", fmt::format("field '{}' must be a string", key));
  }
  return std::string(v->as_string());
}

std::chrono::milliseconds get_duration(const json::object& o, std::string_view key,
                                       std::chrono::milliseconds fallback) {
  const json::value* v = field(o, key);
  if (v == nullptr) {
    return fallback;
  }
  try {
    if (v->is_string()) {
      return parse_duration(std::string(v->as_string()));
    }
  } catch (const std::invalid_argument& e) {
    throw ApiError(400, "bad_field", fmt::format("field '{}': {}", key, e.what()));
  }
  throw ApiError(400, "bad_field", fmt::format("field '{}' must be a duration like \"30s\"", key));
}

std::vector<std::string> get_string_array(const json::object& o, std::string_view key,
                                          std::string_view what) {
  std::vector<std::string> out;
  const json::value* v = field(o, key);
  if (v == nullptr) {
    return out;
  }
  const std::string error = fmt::format("field '{}' must be an array of {}", key, what);
  if (!v->is_array()) {
    throw ApiError(400, "bad_field", error);
  }
  for (const json::value& item : v->as_array()) {
    if (!item.is_string()) {
      throw ApiError(400, "bad_field", error);
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

bool get_bool(const json::object& o, std::string_view key, bool fallback) {
  const json::value* v = field(o, key);
  if (v == nullptr) {
    return fallback;
  }
  if (!v->is_bool()) {
    throw ApiError(400, "bad_field", fmt::format("field '{}' must be true or false", key));
  }
  return v->as_bool();
}

SwapOptions swap_options(const json::object& o, std::chrono::milliseconds deploy_timeout) {
  SwapOptions opt;
  opt.health.timeout = deploy_timeout;
  opt.health.path = get_string(o, "health_path", false, opt.health.path);
  if (opt.health.path.empty() || opt.health.path.front() != '/') {
    throw ApiError(400, "bad_field", "field 'health_path' must start with '/'");
  }
  opt.health.host = get_string(o, "health_host", false);
  opt.health.interval = get_duration(o, "health_interval", opt.health.interval);
  opt.health.timeout = get_duration(o, "deploy_timeout", opt.health.timeout);
  opt.drain_timeout = get_duration(o, "drain_timeout", opt.drain_timeout);
  if (const json::value* v = field(o, "healthy_threshold")) {
    if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > 100) {
      throw ApiError(400, "bad_field", "field 'healthy_threshold' must be a number from 1 to 100");
    }
    opt.health.healthy_threshold = static_cast<unsigned>(v->as_int64());
  }
  opt.health.enabled = get_bool(o, "health_check", opt.health.enabled);
  return opt;
}

int get_int(const json::object& o, std::string_view key, int fallback) {
  const json::value* v = field(o, key);
  if (v == nullptr) {
    return fallback;
  }
  if (!v->is_int64()) {
    throw ApiError(400, "bad_field", fmt::format("field '{}' must be a whole number", key));
  }
  return static_cast<int>(v->as_int64());
}

DeployOptions deploy_options(const json::object& o) {
  DeployOptions opt;
  opt.swap = swap_options(o, std::chrono::seconds(60));
  opt.image = get_string(o, "image", true);
  opt.name_prefix = get_string(o, "name_prefix", false);
  opt.network = get_string(o, "network", false);
  opt.port = get_int(o, "port", opt.port);
  opt.keep = get_int(o, "keep", opt.keep);
  opt.stop_timeout = std::chrono::duration_cast<std::chrono::seconds>(
      get_duration(o, "stop_timeout", opt.stop_timeout));
  opt.host_network = get_bool(o, "host_network", opt.host_network);
  opt.env = get_string_array(o, "env", "\"KEY=VALUE\"");
  return opt;
}

ApiResponse json_reply(int status, const json::value& v) {
  return ApiResponse{status, json::serialize(v) + "\n", "application/json", {}};
}

}  // namespace

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
    json::object body = parse_body(req.body);
    const std::vector<std::string> hosts = get_string_array(body, "hosts", "host names");
    const std::string name = get_string(body, "name", true);
    registry_.add(name, hosts, get_string(body, "upstream", false));
    return json_reply(201, json::object{{"result", "ok"}, {"service", name}});
  }
  constexpr std::string_view prefix = "/v1/services/";
  if (path.substr(0, prefix.size()) == prefix) {
    std::string_view rest = path.substr(prefix.size());
    std::size_t slash = rest.find('/');
    const std::string name(rest.substr(0, slash));
    const std::string action(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    if (action.empty()) {
      if (m != "DELETE") {
        throw ApiError(405, "method_not_allowed", "use DELETE to remove a service");
      }
      registry_.remove(name);
      return json_reply(200, json::object{{"result", "ok"}, {"service", name}});
    }
    if (m != "POST") {
      throw ApiError(405, "method_not_allowed", "use POST");
    }
    json::object body = parse_body(req.body);
    if (action == "swap") {
      const std::string to = get_string(body, "to", true);
      return ApiResponse{
          200,
          {},
          "application/x-ndjson",
          prepare_swap(registry_, server_, name, to, swap_options(body, std::chrono::seconds(30)))};
    }
    if (action == "deploy") {
      return ApiResponse{200,
                         {},
                         "application/x-ndjson",
                         prepare_deploy(registry_, server_, engines_, name, deploy_options(body))};
    }
    if (action == "rollback") {
      if (!registry_.container(name).id.empty()) {
        // A deployed service rolls back to its newest kept container.
        DeployOptions opt;
        opt.swap = swap_options(body, std::chrono::seconds(60));
        return ApiResponse{200,
                           {},
                           "application/x-ndjson",
                           prepare_container_rollback(registry_, server_, engines_, name, opt)};
      }
      return ApiResponse{
          200,
          {},
          "application/x-ndjson",
          prepare_rollback(registry_, server_, name, swap_options(body, std::chrono::seconds(30)))};
    }
    if (action == "pause") {
      auto max_pause = get_duration(body, "max_pause", std::chrono::seconds(30));
      registry_.pause(name, max_pause);
      return json_reply(200, json::object{{"result", "ok"}, {"service", name}, {"paused", true}});
    }
    if (action == "resume") {
      registry_.resume(name);
      return json_reply(200, json::object{{"result", "ok"}, {"service", name}, {"paused", false}});
    }
  }
  throw ApiError(404, "not_found", fmt::format("no endpoint {} {}", m, path));
}

}  // namespace handoff::control
