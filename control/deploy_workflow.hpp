#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "containers/engine.hpp"
#include "control/event_sink.hpp"
#include "control/swap_workflow.hpp"

namespace handoff::control {

/// Options of `handoff deploy`.
struct DeployOptions {
  std::string image;
  std::string name_prefix;       ///< default: the service's name
  std::vector<std::string> env;  ///< KEY=VALUE
  int port = 8080;               ///< the app's port inside its container (with --network)
  std::string network;           ///< a Docker network shared with the proxy
  bool host_network = false;     ///< host network: handoff picks a free port, passed as PORT
  SwapOptions swap;              ///< health gate (its timeout is the deploy timeout), drain
  std::chrono::seconds stop_timeout{10};
  int keep = 1;  ///< stopped containers kept for rollback
  std::string pull =
      "missing";              ///< pull the image: "missing" (when not present), "always", "never"
  std::string registry_auth;  ///< the X-Registry-Auth value for the pull (empty: anonymous)
};

/// Makes the engine a workflow uses (DockerEngine in production). Throws EngineError.
using EngineFactory = std::function<std::unique_ptr<containers::Engine>()>;

/// Prepares `deploy SERVICE --image IMAGE`: validates, reaches the engine, claims the service,
/// and returns the operation that runs the steps: create, start, wait until running, resolve the
/// address, health gate, swap, drain, retire. Any failure before the swap removes the new
/// container and leaves the old one serving. Throws DomainError before anything changes.
Operation prepare_deploy(ServiceRegistry& registry, proxy::Server& server,
                         const EngineFactory& engines, const std::string& service,
                         const DeployOptions& options);

/// Prepares `rollback SERVICE` for a deployed service: starts the newest kept container,
/// health-gates it, swaps, drains and stops the current one.
Operation prepare_container_rollback(ServiceRegistry& registry, proxy::Server& server,
                                     const EngineFactory& engines, const std::string& service,
                                     const DeployOptions& options);

/// Checks, after a restart, that each deployed service's container still exists and runs;
/// problems are reported on stderr and in `handoff status`.
void check_restored_containers(ServiceRegistry& registry, const EngineFactory& engines);

}  // namespace handoff::control
