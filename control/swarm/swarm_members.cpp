#include "control/swarm/swarm_members.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace handoff::control {

std::vector<TaskAddress> serving_tasks(const std::vector<containers::SwarmTask>& tasks,
                                       const std::vector<containers::SwarmNode>& nodes,
                                       const std::string& version_port) {
  std::vector<const containers::SwarmTask*> serving;
  for (const containers::SwarmTask& t : tasks) {
    if (t.state == "running" && t.desired_state == "running") {
      serving.push_back(&t);
    }
  }
  std::sort(serving.begin(), serving.end(),
            [](const auto* a, const auto* b) { return a->slot < b->slot; });
  std::vector<TaskAddress> out;
  for (const containers::SwarmTask* t : serving) {
    const auto node =
        std::find_if(nodes.begin(), nodes.end(), [&](const auto& n) { return n.id == t->node_id; });
    if (node == nodes.end() || node->state != "ready" || node->availability == "drain" ||
        node->address.empty()) {
      continue;
    }
    const std::string host =
        node->address.find(':') != std::string::npos ? "[" + node->address + "]" : node->address;
    out.push_back(TaskAddress{t->id, host + ":" + task_port(version_port, t->slot)});
  }
  return out;
}

}  // namespace handoff::control
