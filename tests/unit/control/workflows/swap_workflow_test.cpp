// The swap and rollback workflows against in-process backends and a real proxy: the gate, the
// switch, the drain, and what is refused before anything changes.
#include "control/workflows/swap_workflow.hpp"

#include <doctest/doctest.h>

#include "control/base/domain_error.hpp"
#include "tests/support/domain_refusal.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using namespace handoff::test;
using namespace std::chrono_literals;
using control::ErrorKind;

namespace {

control::SwapOptions fast() {
  control::SwapOptions o;
  o.health.interval = 20ms;
  o.health.timeout = 400ms;
  o.drain_timeout = 1s;
  return o;
}

control::OperationResult swap(Harness& h, const std::string& to, Events& events) {
  return control::prepare_swap(h.registry, h.server, "web", {to}, fast())(events);
}

}  // namespace

TEST_CASE("a swap gates the target, switches to it and drains the old upstream") {
  Harness h;
  TestBackend blue(TestBackend::respond("blue"));
  TestBackend green(TestBackend::respond("green"));
  Events first;
  REQUIRE(code_of(swap(h, blue.address(), first)) == "ok");
  CHECK(h.get() == "blue");
  Events second;
  const control::OperationResult r = swap(h, green.address(), second);
  REQUIRE(code_of(r) == "ok");
  CHECK_FALSE(r.failure);
  CHECK(h.get() == "green");
  CHECK(second.has("health_check", "done"));
  CHECK(second.has("swap", "done"));
  CHECK(second.has("drain", "done"));
  CHECK(h.registry.view("web").serving.previous == std::vector<std::string>{blue.address()});
}

TEST_CASE("a target that fails its gate is never switched to") {
  Harness h;
  TestBackend blue(TestBackend::respond("blue"));
  TestBackend sick(TestBackend::respond("sick", 503));
  Events first;
  REQUIRE(code_of(swap(h, blue.address(), first)) == "ok");
  Events events;
  const control::OperationResult r = swap(h, sick.address(), events);
  CHECK(code_of(r) == "health_check_failed");
  CHECK(r.failure == ErrorKind::check_failed);
  CHECK(h.get() == "blue");
  CHECK_FALSE(events.has("swap", "done"));
  CHECK_FALSE(sick.requests().empty());  // it was probed
}

TEST_CASE("a rollback swaps back to the upstream before the last swap") {
  Harness h;
  TestBackend blue(TestBackend::respond("blue"));
  TestBackend green(TestBackend::respond("green"));
  Events e1;
  Events e2;
  Events e3;
  CHECK(refusal([&] { (void)control::prepare_rollback(h.registry, h.server, "web", fast()); }) ==
        ErrorKind::conflict);  // nothing before
  REQUIRE(code_of(swap(h, blue.address(), e1)) == "ok");
  REQUIRE(code_of(swap(h, green.address(), e2)) == "ok");
  REQUIRE(code_of(control::prepare_rollback(h.registry, h.server, "web", fast())(e3)) == "ok");
  CHECK(h.get() == "blue");
}

TEST_CASE("a swap is refused before anything changes: unknown service, bad target, busy") {
  Harness h;
  CHECK(refusal([&] {
          (void)control::prepare_swap(h.registry, h.server, "nope", {"127.0.0.1:1"}, fast());
        }) == ErrorKind::not_found);
  CHECK(refusal([&] {
          (void)control::prepare_swap(h.registry, h.server, "web", {"no port"}, fast());
        }) == ErrorKind::invalid);
  auto claim = h.registry.claim("web");
  CHECK(refusal([&] {
          (void)control::prepare_swap(h.registry, h.server, "web", {"127.0.0.1:1"}, fast());
        }) == ErrorKind::conflict);
}
