#include "control/workflows/deploy_workflow.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "control/base/domain_error.hpp"
#include "control/workflows/container_switch.hpp"

namespace handoff::control {

std::shared_ptr<containers::Engine> reach_engine(const EngineFactory& engines) {
  try {
    return std::shared_ptr<containers::Engine>(engines());
  } catch (const containers::EngineError& e) {
    throw DomainError(ErrorKind::unavailable, "engine_unreachable", e.what());
  }
}

namespace {

void validate(const DeployOptions& o) {
  if (o.image.empty()) {
    throw DomainError(ErrorKind::invalid, "missing_field", "an image is required");
  }
  for (const std::string& e : o.env) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw DomainError(ErrorKind::invalid, "bad_env",
                        fmt::format("bad env '{}': expected KEY=VALUE", e));
    }
    if (o.host_network && e.substr(0, eq) == "PORT") {
      throw DomainError(ErrorKind::invalid, "bad_env",
                        "with --host-network handoff sets PORT itself");
    }
  }
  if (o.port < 1 || o.port > 65535) {
    throw DomainError(ErrorKind::invalid, "bad_field", "port must be from 1 to 65535");
  }
  if (o.host_network == !o.network.empty()) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      "give exactly one of --network NAME and --host-network");
  }
  if (o.keep < 0) {
    throw DomainError(ErrorKind::invalid, "bad_field", "keep must be 0 or more");
  }
  if (o.pull != "missing" && o.pull != "always" && o.pull != "never") {
    throw DomainError(ErrorKind::invalid, "bad_field", "pull must be missing, always or never");
  }
}

}  // namespace

Operation prepare_deploy(ServiceRegistry& registry, proxy::Server& server,
                         const EngineFactory& engines, const std::string& service,
                         DeployOptions options) {
  validate(options);
  // 404 for an unknown service before the engine is asked; a redeploy keeps the scale, and a
  // canary starts with one replica unless told otherwise.
  const std::size_t serving = registry.view(service).serving.containers.size();
  registry.refuse_while_canary(service);
  if (options.replicas == 0) {
    options.replicas =
        options.swap.canary_share ? 1 : static_cast<int>(std::max<std::size_t>(serving, 1));
  }
  std::shared_ptr<containers::Engine> engine = reach_engine(engines);
  auto claim = std::make_shared<ServiceClaim>(registry.claim(service));
  return [&registry, &server, engine, options, claim](EventSink& sink) {
    return ContainerSwitch(registry, *claim, server, engine, options, sink).deploy();
  };
}

Operation prepare_container_rollback(ServiceRegistry& registry, proxy::Server& server,
                                     const EngineFactory& engines, const std::string& service,
                                     const DeployOptions& options) {
  registry.refuse_while_canary(service);
  std::shared_ptr<containers::Engine> engine = reach_engine(engines);
  // The target is the set that served before the current one: the first set of the history
  // whose containers the engine still has, all of them.
  std::vector<containers::ContainerSummary> target;
  const auto existing = engine->list("handoff.service=" + service);
  for (const std::vector<ContainerRef>& kept : registry.view(service).serving.earlier) {
    target.clear();
    for (const ContainerRef& c : kept) {
      auto it = std::find_if(existing.begin(), existing.end(),
                             [&](const auto& e) { return e.id == c.id; });
      if (it != existing.end()) {
        target.push_back(*it);
      }
    }
    if (!target.empty() && target.size() == kept.size()) {
      break;
    }
    target.clear();
  }
  if (target.empty()) {
    throw DomainError(ErrorKind::conflict, "nothing_to_roll_back",
                      fmt::format("no set of containers that served '{}' before is kept for "
                                  "rollback (deploy with --keep 1 or more)",
                                  service));
  }
  auto claim = std::make_shared<ServiceClaim>(registry.claim(service));
  return [&registry, &server, engine, options, claim, target](EventSink& sink) {
    return ContainerSwitch(registry, *claim, server, engine, options, sink).roll_back(target);
  };
}

Operation prepare_scale(ServiceRegistry& registry, proxy::Server& server,
                        const EngineFactory& engines, const std::string& service, int replicas,
                        const SwapOptions& swap) {
  if (replicas < 1) {
    throw DomainError(ErrorKind::invalid, "bad_field", "replicas must be 1 or more");
  }
  const SavedDeploySpec spec = registry.view(service).serving.deploy;
  registry.refuse_while_canary(service);
  if (spec.image.empty() || registry.view(service).serving.containers.empty()) {
    throw DomainError(ErrorKind::conflict, "not_deployed",
                      fmt::format("service '{}' does not run in containers handoff deployed: "
                                  "deploy it, or give several upstreams with swap --to",
                                  service));
  }
  DeployOptions options;
  options.image = spec.image;
  options.name_prefix = spec.name_prefix;
  options.env = spec.env;
  options.port = static_cast<int>(spec.port);
  options.host_network = spec.network == "host";
  options.network = options.host_network ? std::string() : spec.network;
  options.stop_timeout = std::chrono::seconds(spec.stop_timeout_s);
  options.swap = swap;
  std::shared_ptr<containers::Engine> engine = reach_engine(engines);
  auto claim = std::make_shared<ServiceClaim>(registry.claim(service));
  const auto target = static_cast<std::size_t>(replicas);
  return [&registry, &server, engine, options, claim, target](EventSink& sink) {
    return ContainerSwitch(registry, *claim, server, engine, options, sink).scale(target);
  };
}

}  // namespace handoff::control
