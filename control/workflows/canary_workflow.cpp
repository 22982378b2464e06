#include "control/workflows/canary_workflow.hpp"

#include "control/base/domain_error.hpp"
#include "control/workflows/container_switch.hpp"

namespace handoff::control {

namespace {

// The running canary of `service` (409 when none runs), and the engine when containers are
// involved (none for plain upstreams: the engine may not even exist). An engine that cannot be
// reached gives none either: where traffic goes does not wait for it (a failing canary must
// leave even then), and the containers it would have stopped are reported and left to the
// reconciliation at the next start.
std::shared_ptr<containers::Engine> canary_engine(const ServiceRegistry& registry,
                                                  const EngineFactory& engines,
                                                  const std::string& service, bool with_serving) {
  const CanaryView canary = registry.running_canary(service);
  const bool containers = !canary.containers.empty() ||
                          (with_serving && !registry.view(service).serving.containers.empty());
  if (!containers) {
    return nullptr;
  }
  try {
    return reach_engine(engines);
  } catch (const DomainError&) {
    return nullptr;
  }
}

}  // namespace

Operation prepare_promote(ServiceRegistry& registry, proxy::Server& server,
                          const EngineFactory& engines, const std::string& service,
                          const DeployOptions& options) {
  std::shared_ptr<containers::Engine> engine = canary_engine(registry, engines, service, true);
  auto claim = std::make_shared<ServiceClaim>(registry.claim(service));
  return [&registry, &server, engine, options, claim](EventSink& sink) {
    return ContainerSwitch(registry, *claim, server, engine, options, sink).promote();
  };
}

Operation prepare_canary_rollback(ServiceRegistry& registry, proxy::Server& server,
                                  const EngineFactory& engines, const std::string& service,
                                  const DeployOptions& options, std::string why) {
  std::shared_ptr<containers::Engine> engine = canary_engine(registry, engines, service, false);
  auto claim = std::make_shared<ServiceClaim>(registry.claim(service));
  return [&registry, &server, engine, options, claim, why](EventSink& sink) {
    return ContainerSwitch(registry, *claim, server, engine, options, sink).drop_canary(why);
  };
}

}  // namespace handoff::control
