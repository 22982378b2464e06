#pragma once

#include <cstdint>
#include <string>

namespace handoff::control {

// The port of a task on a swarm (`deploy --task-port`): a template with the task's slot
// (`{{.Task.Slot}}`, filled by Swarm) and its version's side (`{{.Handoff.Side}}`, filled by
// handoff). The CLI checks it before it asks; the swarm's deploy uses it.

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

}  // namespace handoff::control
