#pragma once

#include "control/registry/service_registry.hpp"
#include "control/workflows/deploy_workflow.hpp"

namespace handoff::control {

/// Checks, after a restart, that each deployed service's containers still exist and run, and
/// brings the engine in line with the saved state: containers of a service that neither serve
/// nor are kept for rollback (a deploy cut short) are removed, kept ones still running are
/// stopped. Problems are reported on stderr and in `handoff status`.
void check_restored_containers(ServiceRegistry& registry, const EngineFactory& engines);

}  // namespace handoff::control
