#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "containers/docker_swarm.hpp"

namespace handoff::control {

/// A version's side: 0 or 1, alternating from one version to the next, so that the version that
/// serves and the one started beside it (a deploy, a canary, a rollback) never share a port.
inline std::int64_t side_of(std::int64_t version) {
  return version % 2;
}

/// A task port template with `{{.Handoff.Side}}` given (what the version's tasks are given as
/// PORT; Swarm then puts each task's slot in `{{.Task.Slot}}`).
std::string version_port(const std::string& task_port, std::int64_t version);

/// The port a task of `slot` listens on under a version's template ("19{{.Task.Slot}}0",
/// slot 2: "1920").
std::string task_port(const std::string& version_port, std::int64_t slot);

/// Why `task_port` cannot serve as --task-port for `replicas` tasks ("" when it can): it must
/// hold `{{.Handoff.Side}}` (two versions run side by side on a node) and give a port from 1
/// to 65535 for every slot.
std::string task_port_problem(const std::string& task_port, std::int64_t replicas);

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
