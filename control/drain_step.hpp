#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/event_sink.hpp"
#include "control/service_registry.hpp"
#include "proxy/drain.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

/// The drain step that every workflow (swap, deploy, rollback) ends its switch with: lists
/// the members it retired (`old`) as draining in `status`, waits for their requests up to
/// `timeout` (closing what is left then), records the drain, and reports it as "drain" events
/// (started, running, done). Does nothing when the swap retired no member.
proxy::DrainResult drain_step(ServiceRegistry& registry, proxy::Server& server,
                              const std::string& service,
                              const std::vector<std::shared_ptr<proxy::Upstream>>& old,
                              proxy::Millis timeout, EventSink& sink);

}  // namespace handoff::control
