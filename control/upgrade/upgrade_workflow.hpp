#pragma once

#include <chrono>
#include <string>

#include "control/protocol/event_sink.hpp"
#include "control/registry/service_registry.hpp"
#include "control/upgrade/succession.hpp"

namespace handoff::control {

/// Options of `handoff upgrade --exec PATH` or `handoff upgrade --image IMAGE`.
struct UpgradeOptions {
  std::string exec;                                 ///< the new binary (process mode)
  std::string image;                                ///< the new image (container mode)
  std::chrono::milliseconds timeout{60'000};        ///< start to accepting, within
  std::chrono::milliseconds drain_timeout{30'000};  ///< requests in flight on the old process
  bool wait = true;  ///< wait for workflows in progress (else 409 at once)
};

/// Prepares an upgrade of this process: validates, then returns the operation that starts the
/// successor (the binary `options.exec` beside this process, or a container from
/// `options.image` beside this one's) with this process's arguments and `--takeover`, and
/// waits until it took the listening sockets and the state and accepts on them (this process
/// then stops accepting and drains), or stops and removes it and serves on. Throws DomainError
/// (400, 409) first.
Operation prepare_upgrade(Succession& succession, ServiceRegistry& registry,
                          const UpgradeOptions& options);

}  // namespace handoff::control
