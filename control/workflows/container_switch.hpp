#pragma once

#include <memory>
#include <string>
#include <vector>

#include "containers/engine.hpp"
#include "control/workflows/deploy_workflow.hpp"

namespace handoff::control {

/// The steps of the workflows that change which containers serve a service: deploy, container
/// rollback, scale, and the promotion or end of a canary. Each runs once, reports its steps to
/// `sink`, and is all or nothing up to its switch: a failure before it removes the new
/// containers (or stops kept ones again) and the old set serves on.
class ContainerSwitch {
 public:
  /// Switches the service `claim` holds; `engine` may be null for a canary of plain upstreams
  /// (promote, drop_canary).
  ContainerSwitch(ServiceRegistry& registry, ServiceClaim& claim, proxy::Server& server,
                  std::shared_ptr<containers::Engine> engine, DeployOptions options,
                  EventSink& sink);
  ~ContainerSwitch();
  ContainerSwitch(const ContainerSwitch&) = delete;
  ContainerSwitch& operator=(const ContainerSwitch&) = delete;

  /// Pull, create, start and gate the replicas, then swap to them, drain and retire the old
  /// set; with a canary share, start them as the canary instead (nothing drains).
  OperationResult deploy();
  /// Resizes the serving set to `target` replicas without a new version.
  OperationResult scale(std::size_t target);
  /// Starts the kept set `kept` again, gates it, swaps to it, drains and retires the current.
  OperationResult roll_back(const std::vector<containers::ContainerSummary>& kept);
  /// Makes the running canary the serving set; the old set drains and is retired.
  OperationResult promote();
  /// Ends the running canary (for `why`): it drains and its containers are removed.
  OperationResult drop_canary(const std::string& why);

 private:
  class Steps;
  std::unique_ptr<Steps> steps_;
};

}  // namespace handoff::control
