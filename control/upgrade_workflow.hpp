#pragma once

#include <chrono>
#include <string>

#include "control/event_sink.hpp"
#include "control/service_registry.hpp"
#include "control/succession.hpp"

namespace handoff::control {

/// Options of `handoff upgrade --exec PATH`.
struct UpgradeOptions {
  std::string exec;                                 ///< the new handoff binary
  std::chrono::milliseconds timeout{60'000};        ///< start to accepting, within
  std::chrono::milliseconds drain_timeout{30'000};  ///< requests in flight on the old process
  bool wait = true;  ///< wait for workflows in progress (else 409 at once)
};

/// Prepares an upgrade of this process to the binary `options.exec`: validates, then returns
/// the operation that starts it with this process's arguments and `--takeover`, waits until it
/// took the listening sockets and the state and accepts on them (this process then stops
/// accepting and drains), or kills it and serves on. Throws DomainError (400, 409) first.
Operation prepare_upgrade(Succession& succession, ServiceRegistry& registry,
                          const UpgradeOptions& options);

}  // namespace handoff::control
