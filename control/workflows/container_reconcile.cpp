#include "control/workflows/container_reconcile.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace handoff::control {

namespace {

// Brings the engine in line with the saved state for one service: containers labelled for it
// that neither serve nor are kept for rollback (a deploy cut short by a crash) are removed, and
// kept ones still running (a retire cut short) are stopped. Each change is reported.
void reconcile_service(ServiceRegistry& registry, containers::Engine& engine,
                       const std::string& service) {
  std::vector<ContainerRef> current = registry.view(service).serving.containers;
  if (const auto canary = registry.view(service).canary) {  // a canary's containers serve too
    current.insert(current.end(), canary->containers.begin(), canary->containers.end());
  }
  const auto history = registry.view(service).serving.earlier;
  const auto names = [](const std::vector<ContainerRef>& set, const std::string& id) {
    return std::any_of(set.begin(), set.end(), [&id](const ContainerRef& c) { return c.id == id; });
  };
  for (const auto& c : engine.list("handoff.service=" + service)) {
    if (names(current, c.id)) {
      continue;
    }
    const bool kept = std::any_of(history.begin(), history.end(),
                                  [&](const auto& set) { return names(set, c.id); });
    try {
      if (!kept) {
        engine.remove(c.id);
        fmt::print(stderr,
                   "handoff: service {}: removed container {} (neither serving nor kept for "
                   "rollback; left by an interrupted deploy)\n",
                   service, c.name);
      } else if (c.state == "running") {
        engine.stop(c.id, std::chrono::seconds(10));
        fmt::print(stderr, "handoff: service {}: stopped container {} (kept for rollback)\n",
                   service, c.name);
      }
    } catch (const containers::EngineError& e) {
      fmt::print(stderr, "handoff: warning: service {}: container {}: {}\n", service, c.name,
                 e.what());
    }
  }
}

// What the engine says is wrong with a container a restored service routes to ("" when it
// runs).
std::string container_problem(containers::Engine& engine, const ContainerRef& container) {
  try {
    containers::ContainerInfo info = engine.inspect(container.id);
    if (!info.running) {
      return fmt::format("container {} is {} (exit code {})", container.name, info.state,
                         info.exit_code);
    }
  } catch (const containers::EngineError& e) {
    return e.status() == 404 ? fmt::format("container {} is missing", container.name) : e.what();
  }
  return {};
}

// Checks that the containers a restored service routes to still run.
void check_current(ServiceRegistry& registry, containers::Engine& engine,
                   const std::string& service, const std::vector<ContainerRef>& containers) {
  std::string problem;
  for (const ContainerRef& c : containers) {
    if (std::string p = container_problem(engine, c); !p.empty()) {
      problem += (problem.empty() ? "" : "; ") + p;
    }
  }
  if (!problem.empty()) {
    registry.set_container_problem(service, problem);
    fmt::print(stderr,
               "handoff: warning: service {}: {}; its requests go to the other members, or "
               "fail when there are none, until the next deploy or rollback\n",
               service, problem);
  }
}

}  // namespace

void check_restored_containers(ServiceRegistry& registry, const EngineFactory& engines) {
  const auto deployed = registry.deployed();
  const auto services = registry.container_services();
  if (services.empty()) {
    return;  // no container was ever created: the engine is not needed (and may not exist)
  }
  std::shared_ptr<containers::Engine> engine;
  try {
    engine = std::shared_ptr<containers::Engine>(engines());
  } catch (const containers::EngineError& e) {
    fmt::print(stderr, "handoff: warning: cannot check the restored containers: {}\n", e.what());
    return;
  }
  for (const auto& name : services) {
    reconcile_service(registry, *engine, name);
  }
  for (const auto& [service, containers] : deployed) {
    check_current(registry, *engine, service, containers);
  }
}

}  // namespace handoff::control
