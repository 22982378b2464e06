#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/registry/service_record.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

// The registry's records as the state file holds them, both ways: what is saved after each
// change, and the records rebuilt from it at a start or a takeover.

/// The set a switch is about to install on one service, saved before the switch is made;
/// `ends_canary`: the switch also ends the service's canary (a promotion or a rollback).
struct PendingSwitch {
  const std::string& service;
  std::vector<std::string> addresses;
  bool ends_canary = false;
};

/// The state of every record; with `pending`, that service's set is the pending one.
[[nodiscard]] ProxyState saved_state(const ServiceRecords& records,
                                     const PendingSwitch* pending = nullptr);

/// The record a saved service describes, serving `set` (made from its saved upstreams; null
/// for none), paused as it was. Its canary's books are restored; the caller gives the
/// service its canary set. Throws std::runtime_error for a bad saved certificate.
[[nodiscard]] ServiceRecord restored_record(const ServiceState& saved, const proxy::Server& server,
                                            std::shared_ptr<const proxy::UpstreamSet> set);

}  // namespace handoff::control
