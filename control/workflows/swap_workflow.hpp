#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "control/health/health_check.hpp"
#include "control/protocol/event_sink.hpp"
#include "control/registry/service_registry.hpp"

namespace handoff::control {

/// Options of a swap or rollback.
struct SwapOptions {
  HealthCheckOptions health;
  std::chrono::milliseconds drain_timeout{30'000};
  /// When set (swap and deploy only): the new set runs as a canary beside the serving one,
  /// taking this share of proxy::kCanaryBuckets, judged by `canary_policy`; nothing drains.
  std::optional<std::uint32_t> canary_share;
  CanaryPolicy canary_policy;
};

/// Prepares `swap SERVICE --to TARGET [--to TARGET...]`: validates, claims the service (one
/// workflow at a time) and returns the operation that runs the steps: health gate (every
/// target), swap to the set of targets, drain. Throws DomainError (invalid, not_found,
/// conflict) before anything changes.
Operation prepare_swap(ServiceRegistry& registry, proxy::Server& server, const std::string& service,
                       const std::vector<std::string>& targets, const SwapOptions& options);

/// Prepares `rollback SERVICE`: a swap back to the upstream before the last swap.
Operation prepare_rollback(ServiceRegistry& registry, proxy::Server& server,
                           const std::string& service, const SwapOptions& options);

}  // namespace handoff::control
