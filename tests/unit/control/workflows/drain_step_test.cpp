// The drain step every workflow ends its switch with: events, the status listing while it
// waits, and its end when the last request leaves or at the timeout.
#include "control/workflows/drain_step.hpp"

#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "tests/support/loopback_upstream.hpp"
#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using namespace handoff::test;
using namespace std::chrono_literals;

namespace {

bool listed_as_draining(const Harness& h) {
  const boost::json::object status = h.registry.status();
  for (const auto& s : status.at("services").as_array()) {
    if (!s.at("draining").as_array().empty()) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("a drain step with no retired member does nothing") {
  Harness h;
  Events events;
  control::ServiceClaim claim = h.registry.claim("web");
  const proxy::DrainResult r = control::drain_step(claim, h.server, {}, 1s, events);
  CHECK(r.clean);
  CHECK(events.all().empty());
}

TEST_CASE("a switch lists the members it retires as draining until the drain step ends") {
  Harness h;
  control::ServiceClaim claim = h.registry.claim("web");
  claim.switch_to({{"127.0.0.1:9001"}});
  CHECK_FALSE(listed_as_draining(h));
  const control::Switched done = claim.switch_to({{"127.0.0.1:9002"}});
  CHECK(done.from == "127.0.0.1:9001");
  CHECK(done.to == "127.0.0.1:9002");
  REQUIRE(done.retired.size() == 1);
  const auto old = done.retired.front();
  CHECK(old->retired());
  CHECK(listed_as_draining(h));  // by the switch itself, in the same step
  old->enter(0);
  Events events;
  auto drained = std::async(std::launch::async, [&] {
    return control::drain_step(claim, h.server, done.retired, 10s, events);
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!events.has("drain", "started") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  CHECK(events.has("drain", "started"));
  CHECK(listed_as_draining(h));
  CHECK_FALSE(events.has("drain", "done"));
  old->leave(0);
  REQUIRE(drained.wait_for(2s) == std::future_status::ready);
  const proxy::DrainResult r = drained.get();
  CHECK(r.clean);
  CHECK(r.closed == 0);
  CHECK(events.has("drain", "done"));
  CHECK_FALSE(listed_as_draining(h));
}

TEST_CASE("a drain step ends at its timeout when a request outlasts it") {
  Harness h;
  auto old = loopback_upstream(1, 1);
  old->enter(0);
  old->retire();
  Events events;
  // The request leaves a little after the timeout, as a closed exchange does.
  std::thread leaves([&] {
    std::this_thread::sleep_for(400ms);
    old->leave(0);
  });
  const auto start = std::chrono::steady_clock::now();
  control::ServiceClaim claim = h.registry.claim("web");
  const proxy::DrainResult r = control::drain_step(claim, h.server, {old}, 200ms, events);
  const auto took = std::chrono::steady_clock::now() - start;
  leaves.join();
  CHECK(took >= 200ms);
  CHECK(took < 3s);
  CHECK_FALSE(r.clean);
  CHECK(events.has("drain", "done"));
}
