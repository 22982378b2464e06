#include "control/protocol/task_port.hpp"

#include <doctest/doctest.h>

using handoff::control::task_port;
using handoff::control::task_port_problem;
using handoff::control::version_port;

TEST_CASE("a task's port comes from its version's side and its slot") {
  const std::string t = "19{{.Handoff.Side}}{{.Task.Slot}}0";
  CHECK(version_port(t, 3) == "191{{.Task.Slot}}0");
  CHECK(version_port(t, 4) == "190{{.Task.Slot}}0");
  CHECK(task_port(version_port(t, 3), 2) == "19120");
  CHECK(task_port(version_port(t, 4), 12) == "190120");
  CHECK(task_port_problem(t, 9).empty());
  CHECK(task_port_problem(t, 12).find("gives '190100' for slot 10") != std::string::npos);
  CHECK(task_port_problem("19{{.Task.Slot}}", 1).find("must hold {{.Handoff.Side}}") !=
        std::string::npos);
  CHECK(task_port_problem("9{{.Handoff.Side}}{{.Task.Slot}}99", 1).find("not a port") !=
        std::string::npos);
  CHECK(task_port_problem("x{{.Handoff.Side}}", 1).find("not a port") != std::string::npos);
}
