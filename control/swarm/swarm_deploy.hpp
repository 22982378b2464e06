#pragma once

#include <string>
#include <vector>

#include "control/protocol/event_sink.hpp"
#include "control/swarm/swarm_follower.hpp"
#include "control/workflows/deploy_workflow.hpp"

namespace handoff::control {

/// Prepares `deploy SERVICE --image IMAGE` on a swarm (`handoff run --swarm`). The new version
/// is a Swarm service of its own (`PREFIX-vN`, labels `handoff.service` and `handoff.version`)
/// on the hosts' network, each task listening on `--task-port` of its node. Swarm places its
/// tasks; the deploy waits until they run, health-gates every task, then writes the service's
/// next record (see SwarmRecord), which every node's handoff follows with its own switch and
/// drain. Once the drain timeout has passed (by then every node has drained the old version),
/// the old version is scaled to zero and kept for rollback; versions beyond --keep are removed.
/// A failure before the record removes the new version: the old one serves on. `hosts` make a
/// service the swarm does not have yet. Throws DomainError before anything changes.
Operation prepare_swarm_deploy(SwarmFollower& follower, const SwarmEngineFactory& engines,
                               const std::string& service, const std::vector<std::string>& hosts,
                               DeployOptions options);

/// Prepares `rollback SERVICE` on a swarm: the newest kept version (scaled to zero by the
/// deploy that followed it) is scaled back to as many tasks as serve now, health-gated, and
/// named by the service's next record; the version that served drains on every node and is
/// scaled to zero, kept. A failure before the record scales the kept version to zero again.
Operation prepare_swarm_rollback(SwarmFollower& follower, const SwarmEngineFactory& engines,
                                 const std::string& service, DeployOptions options);

}  // namespace handoff::control
