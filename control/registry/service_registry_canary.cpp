// The registry's canaries: a second set beside a service's serving one, started, reweighted,
// promoted or dropped, each change saved at once.
#include <fmt/format.h>

#include <chrono>

#include "control/base/domain_error.hpp"
#include "control/registry/service_registry.hpp"

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

void ServiceRegistry::start_canary(const std::string& name, const NextSet& canary,
                                   std::uint32_t share, const CanaryPolicy& policy,
                                   const SavedDeploySpec& spec) {
  const ResolvedAddresses resolved = resolve_addresses(resolve_, canary.addresses);
  ChangeLock lock(*this);
  Record& r = find(name);
  if (r.service->canary()) {
    throw DomainError(ErrorKind::conflict, "canary_running",
                      fmt::format("a canary runs on '{}' already: promote it or roll it back "
                                  "first",
                                  name));
  }
  auto set = make_set(server_, resolved, r.serving.generation + 1);
  apply_cap(r, set);
  const Record before = r;
  r.service->set_canary(std::move(set), share);
  r.canary.containers = canary.containers;
  r.canary.policy = policy;
  r.canary.deploy = spec;
  r.canary.started_unix_ms = unix_now_ms();
  save_or_undo(lock, [&] {
    r.service->set_canary(nullptr, 0);
    r = before;
  });
}

void ServiceRegistry::set_canary_share(const std::string& name, std::uint32_t share) {
  ChangeLock lock(*this);
  check_not_frozen();
  Record& r = find(name);
  const auto canary = r.service->canary();
  if (!canary) {
    no_canary(name);
  }
  if (claimed_.count(name) != 0) {
    throw DomainError(ErrorKind::conflict, "busy",
                      fmt::format("a workflow is running on '{}'", name));
  }
  r.service->set_canary(canary->set, share);  // the same members: nothing is retired
  save_or_undo(lock, [&] { r.service->set_canary(canary->set, canary->share); });
}

std::optional<CanaryView> ServiceRegistry::canary_of(const std::string& name, const Record& r) {
  const auto canary = r.service->canary();
  if (!canary) {
    return std::nullopt;
  }
  return CanaryView{name,          canary->set,     r.canary.containers,
                    canary->share, r.canary.policy, r.canary.started_unix_ms};
}

CanaryView ServiceRegistry::running_canary(const std::string& name) const {
  std::optional<CanaryView> running = view(name).canary;
  if (!running) {
    no_canary(name);
  }
  return std::move(*running);
}

std::vector<CanaryView> ServiceRegistry::canaries() const {
  std::lock_guard lock(mutex_);
  std::vector<CanaryView> out;
  for (const auto& [name, r] : records_) {
    if (auto canary = canary_of(name, r)) {
      out.push_back(std::move(*canary));
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

Switched ServiceRegistry::promote_canary(const std::string& name) {
  ChangeLock lock(*this);
  Record& r = find(name);
  if (!r.service->canary()) {
    no_canary(name);
  }
  const Record before = r;
  r.serving.previous = addresses_of(r.service->upstreams());
  r.serving.generation += 1;
  if (!r.serving.containers.empty()) {
    r.serving.earlier.insert(r.serving.earlier.begin(), r.serving.containers);
  }
  r.serving.containers = std::move(r.canary.containers);
  r.canary.containers.clear();
  if (!r.canary.deploy.image.empty()) {
    r.serving.deploy = r.canary.deploy;
  }
  r.serving.container_problem.clear();
  // Saved before the store, as a swap is: a restart must find the set that serves.
  const PendingSwitch pending{name, addresses_of(r.service->canary()->set), true};
  save_or_undo(
      lock, [&] { r = before; }, &pending);
  Switched done;
  done.from = serving_addresses(r);
  const auto start = Clock::now();
  done.retired = r.service->promote_canary();
  done.took = Clock::now() - start;
  done.to = serving_addresses(r);
  r.books.swaps += 1;
  r.books.swap_seconds += std::chrono::duration<double>(done.took).count();
  r.books.draining.insert(r.books.draining.end(), done.retired.begin(), done.retired.end());
  return done;
}

Switched ServiceRegistry::drop_canary(const std::string& name,
                                      std::vector<ContainerRef>& containers) {
  ChangeLock lock(*this);
  Record& r = find(name);
  if (!r.service->canary()) {
    no_canary(name);
  }
  const Record before = r;
  r.canary.containers.clear();
  const PendingSwitch pending{name, addresses_of(r.service->upstreams()), true};
  save_or_undo(
      lock, [&] { r = before; }, &pending);
  containers = before.canary.containers;
  Switched done;
  done.from = serving_addresses(r);
  done.retired = r.service->set_canary(nullptr, 0);
  done.to = done.from;
  r.books.draining.insert(r.books.draining.end(), done.retired.begin(), done.retired.end());
  return done;
}

}  // namespace handoff::control
