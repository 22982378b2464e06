#include "control/base/usable_cores.hpp"

#include <doctest/doctest.h>

using handoff::control::cores_within_quota;
using handoff::control::usable_cores;

TEST_CASE("a cgroup CPU quota caps the worker threads, rounded up") {
  CHECK(cores_within_quota("max 100000\n", 8) == 8);
  CHECK(cores_within_quota("150000 100000\n", 8) == 2);
  CHECK(cores_within_quota("50000 100000", 8) == 1);
  CHECK(cores_within_quota("800000 100000", 4) == 4);
  CHECK(cores_within_quota("", 3) == 3);
  CHECK(usable_cores() >= 1);
}
