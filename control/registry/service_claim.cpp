#include "control/registry/service_claim.hpp"

#include "control/registry/service_registry.hpp"

namespace handoff::control {

ServiceClaim::ServiceClaim(ServiceRegistry& registry, std::string service)
    : registry_(&registry), service_(std::move(service)) {}

ServiceClaim::ServiceClaim(ServiceClaim&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), service_(std::move(other.service_)) {}

ServiceClaim::~ServiceClaim() {
  if (registry_ != nullptr) {
    registry_->release(service_);
  }
}

Switched ServiceClaim::switch_to(const NextSet& next, const SwitchSettings& settings,
                                 const std::function<void()>& on_switched) {
  return registry_->switch_to(service_, next, settings, on_switched);
}

Switched ServiceClaim::resize(const std::vector<std::size_t>& keep, const NextSet& add) {
  return registry_->resize(service_, keep, add);
}

void ServiceClaim::start_canary(const NextSet& canary, std::uint32_t share,
                                const CanaryPolicy& policy, const SavedDeploySpec& spec) {
  registry_->start_canary(service_, canary, share, policy, spec);
}

Switched ServiceClaim::promote_canary() {
  return registry_->promote_canary(service_);
}

Switched ServiceClaim::drop_canary(std::vector<ContainerRef>& containers) {
  return registry_->drop_canary(service_, containers);
}

void ServiceClaim::drained(const std::vector<std::shared_ptr<proxy::Upstream>>& retired,
                           std::chrono::milliseconds took) {
  registry_->end_drain(service_, retired, took);
}

std::uint64_t ServiceClaim::reserve_container_number() {
  return registry_->reserve_container_number(service_);
}

void ServiceClaim::forget_containers(const std::vector<std::string>& ids) {
  registry_->forget_containers(service_, ids);
}

}  // namespace handoff::control
