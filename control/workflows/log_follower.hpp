#pragma once

#include <atomic>
#include <string>

#include "control/protocol/event_sink.hpp"
#include "control/registry/service_registry.hpp"
#include "control/workflows/deploy_workflow.hpp"

namespace handoff::control {

/// Prepares `logs SERVICE --follow`: streams the output of the service's serving container as
/// {"log": TEXT} events, starting with its last `tail` lines. When that container stops and the
/// service has moved to another one (a deploy or rollback), it goes on with the new container
/// ({"following": NAME}, then its whole output); it ends when the serving container stops, the
/// reader leaves, or `stopping` is set. Throws DomainError 404/409 before anything streams.
Operation prepare_log_follow(ServiceRegistry& registry, const EngineFactory& engines,
                             const std::string& service, int tail,
                             const std::atomic<bool>& stopping);

}  // namespace handoff::control
