#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "containers/docker_swarm.hpp"
#include "control/protocol/task_port.hpp"

namespace handoff::control {

/// A task that takes requests, and where.
struct TaskAddress {
  std::string task;     ///< its id
  std::string address;  ///< NODE-ADDRESS:PORT

  bool operator==(const TaskAddress&) const = default;
};

/// The tasks (in slot order) of a version that take requests, and their addresses:
/// running and meant to keep running, on a node that is ready and not drained. A task whose
/// desired state changed (a scale-down, a drained node) is left out at once, before Swarm
/// stops it.
std::vector<TaskAddress> serving_tasks(const std::vector<containers::SwarmTask>& tasks,
                                       const std::vector<containers::SwarmNode>& nodes,
                                       const std::string& version_port);

}  // namespace handoff::control
