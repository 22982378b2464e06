#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/health/health_monitor.hpp"
#include "control/registry/member_sets.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/upstream/upstream.hpp"

namespace handoff::control {

class ServiceRegistry;

/// The set a switch installs: one member per address, running in `containers` (one per
/// address, or none when they are not containers handoff deployed).
struct NextSet {
  std::vector<std::string> addresses;
  std::vector<ContainerRef> containers = {};
};

/// What a switch records beside its new set, saved with it: how the serving members are checked
/// from now on, and how the service's containers are made (its last deploy; a rollback changes
/// the image), for `scale`. What is not set stays as it is.
struct SwitchSettings {
  std::optional<HealthWatch> watch = {};
  std::optional<SavedDeploySpec> spec = {};
};

/// What a switch did, read in the same locked step that made it: the members it retired (listed
/// as draining from then on), how long the store took, and the serving addresses before and
/// after, comma-separated.
struct Switched {
  std::vector<std::shared_ptr<proxy::Upstream>> retired;
  std::chrono::nanoseconds took{};
  std::string from;
  std::string to;
};

/// A workflow's hold on one service, from ServiceRegistry::claim. While it lives no other
/// workflow runs on the service and no upgrade freezes the registry, and only through it are
/// the service's members switched. Move-only; destroying it lets go of the service.
class ServiceClaim {
 public:
  ServiceClaim(ServiceClaim&& other) noexcept;
  ServiceClaim& operator=(ServiceClaim&&) = delete;
  ServiceClaim(const ServiceClaim&) = delete;
  ServiceClaim& operator=(const ServiceClaim&) = delete;
  ~ServiceClaim();

  /// The claimed service's name.
  [[nodiscard]] const std::string& service() const { return service_; }

  /// Makes `next` the serving set with one atomic store, with the `settings` that come with it.
  /// The state is saved before the store: when it cannot be, nothing changes (DomainError
  /// not_saved); a bad address is a DomainError 400. `on_switched` runs right after the store.
  Switched switch_to(const NextSet& next, const SwitchSettings& settings = {},
                     const std::function<void()>& on_switched = {});
  /// Resizes the serving set without a new version: keeps the members at the indexes `keep`
  /// (the same members, with their requests and connections) and their containers, and adds
  /// the members of `add`, with one atomic store. The members it drops are retired; their
  /// containers are forgotten (not kept for rollback).
  Switched resize(const std::vector<std::size_t>& keep, const NextSet& add);
  /// Runs `canary` beside the serving set, taking `share` of the clients and judged by
  /// `policy`; `spec` is how its containers were made (the service's on promotion). Throws
  /// DomainError (400 bad address, 409 a canary runs already).
  void start_canary(const NextSet& canary, std::uint32_t share, const CanaryPolicy& policy,
                    const SavedDeploySpec& spec = {});
  /// Makes the canary the serving set with one store the data plane sees; the containers that
  /// served become the newest set of the history. Throws DomainError 409 when none runs.
  Switched promote_canary();
  /// Ends the canary; its members are retired, its containers (to remove) put in `containers`.
  /// The serving set is untouched. Throws DomainError 409 when none runs.
  Switched drop_canary(std::vector<ContainerRef>& containers);
  /// Records that the retired members' drain ended after `took` (they leave status).
  void drained(const std::vector<std::shared_ptr<proxy::Upstream>>& retired,
               std::chrono::milliseconds took);
  /// Reserves the number of the service's next container, saved before it returns, so that no
  /// name is used twice, even when handoff dies before the container serves.
  std::uint64_t reserve_container_number();
  /// Forgets containers that were removed (kept for rollback no more).
  void forget_containers(const std::vector<std::string>& ids);

 private:
  friend class ServiceRegistry;
  ServiceClaim(ServiceRegistry& registry, std::string service);

  ServiceRegistry* registry_;  // null once moved from
  std::string service_;
};

}  // namespace handoff::control
