#pragma once

#include <memory>
#include <string>

#include "control/event_sink.hpp"
#include "control/service_registry.hpp"
#include "proxy/drain.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

/// The drain step that every workflow (swap, deploy, rollback) ends its switch with: lists
/// `old` as draining in `status`, waits for its requests up to `timeout` (closing what is left
/// then), records the drain, and reports it as "drain" events (started, running, done). Does
/// nothing when there was no previous upstream.
proxy::DrainResult drain_step(ServiceRegistry& registry, proxy::Server& server,
                              const std::string& service,
                              const std::shared_ptr<proxy::Upstream>& old, proxy::Millis timeout,
                              EventSink& sink);

}  // namespace handoff::control
