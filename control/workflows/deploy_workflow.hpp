#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "containers/engine.hpp"
#include "control/protocol/event_sink.hpp"
#include "control/workflows/swap_workflow.hpp"

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
  int keep = 1;      ///< sets of stopped containers kept for rollback
  int replicas = 0;  ///< containers in the new set; 0: as many as serve now (at least 1)
  std::string pull =
      "missing";              ///< pull the image: "missing" (when not present), "always", "never"
  std::string registry_auth;  ///< the X-Registry-Auth value for the pull (empty: anonymous)
  std::string task_port;      ///< on a swarm: each task's port, e.g. "190{{.Task.Slot}}"
};

/// Makes the engine a workflow uses (DockerEngine in production). Throws EngineError.
using EngineFactory = std::function<std::unique_ptr<containers::Engine>()>;

/// The engine from `engines`; an unreachable one is a DomainError 503 (engine_unreachable).
std::shared_ptr<containers::Engine> reach_engine(const EngineFactory& engines);

/// Prepares `deploy SERVICE --image IMAGE [--replicas N]`: validates, reaches the engine,
/// claims the service, and returns the operation that runs the steps for each replica: create,
/// start, wait until running, resolve the address, health gate; then swap to the new set,
/// drain, retire. Any failure before the swap removes every new container and leaves the old
/// set serving. Throws DomainError before anything changes.
Operation prepare_deploy(ServiceRegistry& registry, proxy::Server& server,
                         const EngineFactory& engines, const std::string& service,
                         DeployOptions options);

/// Prepares `scale SERVICE N` for a deployed service: N replicas made as its last deploy made
/// them; new ones are gated (all or nothing) before they join the set, dropped ones drain and
/// are removed. The version does not change. Throws DomainError (400, 404, 409 not deployed or
/// busy) before anything changes.
Operation prepare_scale(ServiceRegistry& registry, proxy::Server& server,
                        const EngineFactory& engines, const std::string& service, int replicas,
                        const SwapOptions& swap);

/// Prepares `rollback SERVICE` for a deployed service: starts the newest kept set of
/// containers, health-gates them, swaps, drains and stops the current ones.
Operation prepare_container_rollback(ServiceRegistry& registry, proxy::Server& server,
                                     const EngineFactory& engines, const std::string& service,
                                     const DeployOptions& options);

}  // namespace handoff::control
