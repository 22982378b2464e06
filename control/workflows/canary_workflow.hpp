#pragma once

#include <string>

#include "control/workflows/deploy_workflow.hpp"

namespace handoff::control {

/// Prepares `promote SERVICE`: the running canary becomes the serving set with one store; the
/// set that served drains, and its containers are stopped and kept for rollback (`options`:
/// drain timeout, stop timeout, keep). Throws DomainError (404, 409 no canary or busy).
Operation prepare_promote(ServiceRegistry& registry, proxy::Server& server,
                          const EngineFactory& engines, const std::string& service,
                          const DeployOptions& options);

/// Prepares the end of the service's canary (`rollback` while one runs, or the canary
/// monitor, with `why`): its members leave, drain, and their containers are removed; the
/// serving set is untouched. Throws DomainError (404, 409 no canary or busy).
Operation prepare_canary_rollback(ServiceRegistry& registry, proxy::Server& server,
                                  const EngineFactory& engines, const std::string& service,
                                  const DeployOptions& options, std::string why);

}  // namespace handoff::control
