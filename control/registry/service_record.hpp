#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/health/health_monitor.hpp"
#include "control/registry/member_sets.hpp"
#include "control/registry/service_tls.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/routing/service.hpp"

namespace handoff::control {

/// How requests reach a service: the hosts and path prefixes it answers, and its HTTPS.
struct RouteSettings {
  std::vector<std::string> hosts;
  bool strip_prefix = false;             ///< a matched path prefix is removed before forwarding
  std::optional<std::size_t> max_conns;  ///< its own cap on each member's connections
  ServiceTls tls;
};

/// What serves the service and what served it before: for rollback, scale and retirement.
struct ServingHistory {
  std::uint64_t generation = 1;
  std::vector<std::string> previous;               // the set before the last swap
  std::vector<ContainerRef> containers;            // of the serving members, in member order
  std::vector<std::vector<ContainerRef>> earlier;  // sets served before, most recent first
  SavedDeploySpec deploy;                          // how its containers are made, for scale
  std::uint64_t next_container = 0;  ///< see ServiceClaim::reserve_container_number; 0: none yet
  std::string container_problem;     ///< e.g. "missing", found when restoring
};

/// The running canary's containers and how it is judged (its set lives in the Service).
struct CanaryBook {
  std::vector<ContainerRef> containers;  ///< of the canary's members, in member order
  CanaryPolicy policy;
  SavedDeploySpec deploy;  ///< how its containers were made
  std::int64_t started_unix_ms = 0;
};

/// The switches and drains so far, for the metrics; and the members still draining.
struct SwitchBooks {
  std::vector<std::shared_ptr<proxy::Upstream>> draining;
  std::uint64_t swaps = 0;
  double swap_seconds = 0;  ///< sum over swaps
  std::uint64_t drains = 0;
  double drain_seconds = 0;  ///< sum over drains
};

/// The control plane's record of one service: the data plane's Service and what the control
/// plane keeps beside it.
struct ServiceRecord {
  std::shared_ptr<proxy::Service> service;
  RouteSettings route;
  HealthWatch watch;  ///< active checks on the serving members
  ServingHistory serving;
  CanaryBook canary;
  SwitchBooks books;
};

/// Every service's record, by name.
using ServiceRecords = std::map<std::string, ServiceRecord>;

}  // namespace handoff::control
