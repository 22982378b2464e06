// The registry's canaries: a second set beside a service's serving one, started, reweighted,
// promoted or dropped, each change saved at once.
#include <fmt/format.h>

#include <chrono>

#include "control/domain_error.hpp"
#include "control/service_registry.hpp"

namespace handoff::control {

using Clock = std::chrono::steady_clock;

namespace {

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void no_canary(const std::string& name) {
  throw DomainError(ErrorKind::conflict, "no_canary",
                    fmt::format("no canary runs on '{}' (start one with deploy --canary or "
                                "swap --canary)",
                                name));
}

}  // namespace

void ServiceRegistry::start_canary(const std::string& name,
                                   const std::vector<std::string>& addresses,
                                   const std::vector<ContainerRef>& containers, std::uint32_t share,
                                   const CanaryPolicy& policy, const SavedDeploySpec& spec) {
  std::lock_guard lock(mutex_);
  Record& r = find(name);
  if (r.service->canary()) {
    throw DomainError(ErrorKind::conflict, "canary_running",
                      fmt::format("a canary runs on '{}' already: promote it or roll it back "
                                  "first",
                                  name));
  }
  auto set = make_set(server_, addresses, r.generation + 1);
  apply_cap(r, set);
  const Record before = r;
  r.service->set_canary(std::move(set), share);
  r.canary_containers = containers;
  r.canary_policy = policy;
  r.canary_deploy = spec;
  r.canary_started = unix_now_ms();
  save_or_undo([&] {
    r.service->set_canary(nullptr, 0);
    r = before;
  });
}

void ServiceRegistry::set_canary_share(const std::string& name, std::uint32_t share) {
  std::lock_guard lock(mutex_);
  check_not_frozen();
  Record& r = find(name);
  const auto canary = r.service->canary();
  if (!canary) {
    no_canary(name);
  }
  if (r.busy) {
    throw DomainError(ErrorKind::conflict, "busy",
                      fmt::format("a workflow is running on '{}'", name));
  }
  r.service->set_canary(canary->set, share);  // the same members: nothing is retired
  save_or_undo([&] { r.service->set_canary(canary->set, canary->share); });
}

std::optional<CanaryView> ServiceRegistry::canary(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const Record& r = find(name);
  const auto canary = r.service->canary();
  if (!canary) {
    return std::nullopt;
  }
  return CanaryView{name,          canary->set,     r.canary_containers,
                    canary->share, r.canary_policy, r.canary_started};
}

CanaryView ServiceRegistry::running_canary(const std::string& name) const {
  std::optional<CanaryView> running = canary(name);
  if (!running) {
    no_canary(name);
  }
  return std::move(*running);
}

std::vector<CanaryView> ServiceRegistry::canaries() const {
  std::lock_guard lock(mutex_);
  std::vector<CanaryView> out;
  for (const auto& [name, r] : records_) {
    if (const auto canary = r.service->canary()) {
      out.push_back(CanaryView{name, canary->set, r.canary_containers, canary->share,
                               r.canary_policy, r.canary_started});
    }
  }
  return out;
}

void ServiceRegistry::refuse_while_canary(const std::string& name) const {
  std::lock_guard lock(mutex_);
  if (const auto canary = find(name).service->canary()) {
    throw DomainError(ErrorKind::conflict, "canary_running",
                      fmt::format("a canary runs on '{}' ({}): promote it or roll it back first",
                                  name, canary->set->addresses()));
  }
}

std::vector<std::shared_ptr<proxy::Upstream>> ServiceRegistry::promote_canary(
    const std::string& name, std::chrono::nanoseconds& switch_time) {
  std::lock_guard lock(mutex_);
  Record& r = find(name);
  if (!r.service->canary()) {
    no_canary(name);
  }
  const Record before = r;
  r.previous = addresses_of(r.service->upstreams());
  r.generation += 1;
  if (!r.containers.empty()) {
    r.history.insert(r.history.begin(), r.containers);
  }
  r.containers = std::move(r.canary_containers);
  r.canary_containers.clear();
  if (!r.canary_deploy.image.empty()) {
    r.deploy = r.canary_deploy;
  }
  r.container_problem.clear();
  // Saved before the store, as a swap is: a restart must find the set that serves.
  const PendingSwitch pending{name, addresses_of(r.service->canary()->set), true};
  save_or_undo([&] { r = before; }, &pending);
  const auto start = Clock::now();
  auto left = r.service->promote_canary();
  switch_time = Clock::now() - start;
  r.swaps += 1;
  r.swap_seconds += std::chrono::duration<double>(switch_time).count();
  return left;
}

std::vector<std::shared_ptr<proxy::Upstream>> ServiceRegistry::drop_canary(
    const std::string& name, std::vector<ContainerRef>& containers) {
  std::lock_guard lock(mutex_);
  Record& r = find(name);
  if (!r.service->canary()) {
    no_canary(name);
  }
  const Record before = r;
  r.canary_containers.clear();
  const PendingSwitch pending{name, addresses_of(r.service->upstreams()), true};
  save_or_undo([&] { r = before; }, &pending);
  containers = before.canary_containers;
  return r.service->set_canary(nullptr, 0);
}

}  // namespace handoff::control
