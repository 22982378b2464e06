#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "control/protocol/event_sink.hpp"
#include "control/protocol/json_fields.hpp"
#include "control/protocol/requests.hpp"
#include "control/registry/service_registry.hpp"
#include "control/swarm/swarm_deploy.hpp"
#include "control/swarm/swarm_follower.hpp"
#include "control/upgrade/succession.hpp"
#include "control/workflows/deploy_workflow.hpp"

namespace handoff::control {

/// A control request, independent of the transport.
struct ApiRequest {
  std::string method;
  std::string path;  ///< without the query string
  std::string body;  ///< JSON, may be empty
};

/// The HTTP status the control API answers an error of `kind` with: the one place where the
/// control plane's errors become HTTP.
int http_status(ErrorKind kind);

/// The answer: a complete body, or a long operation that streams events.
struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  Operation operation;  ///< set for swap and rollback
};

/// The control API (versioned under /v1/, documented in README.md): maps requests to the
/// registry and the workflows. Errors are JSON {"error": CODE, "message": TEXT}.
class ControlApi {
 public:
  /// `engines` makes the container engine for deploys and container rollbacks.
  ControlApi(ServiceRegistry& registry, proxy::Server& server, EngineFactory engines)
      : registry_(registry), server_(server), engines_(std::move(engines)) {}

  /// Answers one request; never throws.
  ApiResponse handle(const ApiRequest& request);
  /// Lets `POST /v1/upgrade` hand this process over (without it, the endpoint is 404).
  void set_succession(Succession* succession) { succession_ = succession; }
  /// Sends deploys to the swarm (`run --swarm`): `follower` is this node's, `engines` reach the
  /// swarm's manager.
  void set_swarm(SwarmFollower* follower, SwarmEngineFactory engines) {
    swarm_ = follower;
    swarm_engines_ = std::move(engines);
  }
  /// From now on, requests are answered 503.
  void shutting_down() { shutting_down_ = true; }

 private:
  ApiResponse route(const ApiRequest& request);
  ApiResponse add_service(std::string_view body);
  ApiResponse upgrade(std::string_view body);
  ApiResponse change_service(const std::string& method, const std::string& name,
                             std::string_view body);
  std::optional<ApiResponse> service_action(const std::string& name, const std::string& action,
                                            std::string_view body);
  std::optional<ApiResponse> other_action(const std::string& name, const std::string& action,
                                          std::string_view text);
  ApiResponse roll_back(const std::string& name, const RollbackRequest& request);
  ApiResponse pause(const std::string& name, const PauseRequest& request);
  boost::json::object container_logs(const std::string& name, int tail);
  Operation deploy_creating(const std::string& name, const std::vector<std::string>& hosts,
                            const TlsChange& tls, const DeployOptions& options);

  ServiceRegistry& registry_;
  proxy::Server& server_;
  EngineFactory engines_;
  SwarmFollower* swarm_ = nullptr;
  SwarmEngineFactory swarm_engines_;
  Succession* succession_ = nullptr;
  std::atomic<bool> shutting_down_{false};
};

/// The JSON error body the API answers with.
std::string error_body(std::string_view code, std::string_view message);

}  // namespace handoff::control
