#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/protocol/event_sink.hpp"
#include "control/registry/service_claim.hpp"
#include "proxy/server.hpp"
#include "proxy/upstream/drain.hpp"

namespace handoff::control {

/// The drain step that every workflow (swap, deploy, rollback) ends its switch with: waits for
/// the requests of the members its switch retired (`old`, listed as draining in `status` by
/// the switch itself) up to `timeout`, closing what is left then, records the drain on the
/// claimed service, and reports it as "drain" events (started, running, done). Does nothing
/// when the switch retired no member.
proxy::DrainResult drain_step(ServiceClaim& claim, proxy::Server& server,
                              const std::vector<std::shared_ptr<proxy::Upstream>>& old,
                              proxy::Millis timeout, EventSink& sink);

}  // namespace handoff::control
