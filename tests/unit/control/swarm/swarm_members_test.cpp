#include "control/swarm/swarm_members.hpp"

#include <doctest/doctest.h>

using namespace handoff;
using control::serving_tasks;
using control::TaskAddress;

TEST_CASE("the members are the running tasks meant to keep running, on ready undrained nodes") {
  const std::vector<containers::SwarmNode> nodes = {{"n1", "10.0.0.1", "ready", "active"},
                                                    {"n2", "10.0.0.2", "ready", "drain"},
                                                    {"n3", "10.0.0.3", "down", "active"},
                                                    {"n4", "::1", "ready", "active"}};
  const std::vector<containers::SwarmTask> tasks = {
      {"t3", "s", 3, "n1", "running", "running", ""},
      {"t1", "s", 1, "n1", "running", "running", ""},
      {"t2", "s", 2, "n1", "running", "shutdown", ""},  // leaving: out at once
      {"t4", "s", 4, "n1", "starting", "running", ""},  // not yet
      {"t5", "s", 5, "n2", "running", "running", ""},   // its node is drained
      {"t6", "s", 6, "n3", "running", "running", ""},   // its node is down
      {"t7", "s", 7, "n4", "running", "running", ""}};
  CHECK(serving_tasks(tasks, nodes, "80{{.Task.Slot}}") ==
        std::vector<TaskAddress>{
            {"t1", "10.0.0.1:801"}, {"t3", "10.0.0.1:803"}, {"t7", "[::1]:807"}});
}
