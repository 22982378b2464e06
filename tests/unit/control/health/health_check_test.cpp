#include "control/health/health_check.hpp"

#include <doctest/doctest.h>

#include <atomic>

#include "tests/support/test_backend.hpp"
#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using namespace handoff::test;
using namespace std::chrono_literals;

namespace {

// Answers /up with the statuses in `script`, one per probe, then the last one for ever.
TestBackend::Handler scripted(std::vector<int> script, std::atomic<int>& probes) {
  return [script, &probes](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      const auto i = static_cast<std::size_t>(probes++);
      const int status = script[std::min(i, script.size() - 1)];
      c.send("HTTP/1.1 " + std::to_string(status) +
             " X\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
    }
  };
}

control::HealthCheckOptions fast(std::chrono::milliseconds timeout) {
  control::HealthCheckOptions o;
  o.interval = 10ms;
  o.timeout = timeout;
  return o;
}

}  // namespace

TEST_CASE("the gate needs consecutive 2xx answers: a failure in between starts again") {
  std::atomic<int> probes{0};
  TestBackend app(scripted({200, 503, 200, 204}, probes));
  Events events;
  CHECK(control::run_health_gate(app.address(), fast(2s), events).empty());
  CHECK(probes.load() == 4);
  CHECK(app.requests().front().target == "/up");
  CHECK(app.requests().front().header("host") == app.address());
}

TEST_CASE("a redirect is not healthy, and the gate says what it last saw when it gives up") {
  std::atomic<int> probes{0};
  TestBackend app(scripted({302}, probes));
  Events events;
  const std::string failure = control::run_health_gate(app.address(), fast(1s), events);
  CHECK_FALSE(failure.empty());
  // Every attempt saw the redirect (the last one may instead run out of time under a
  // sanitizer, so the message is not checked for it).
  int redirects = 0;
  for (const auto& e : events.all()) {
    const auto* status = e.if_contains("status");
    redirects += status != nullptr && status->to_number<int>() == 302 ? 1 : 0;
  }
  CHECK(redirects >= 2);
  CHECK(probes.load() >= redirects);
}

TEST_CASE("the gate stops probing as soon as the give-up check says why") {
  std::atomic<int> probes{0};
  TestBackend app(scripted({503}, probes));
  Events events;
  const std::string failure = control::run_health_gate(
      app.address(), fast(5s), events, [] { return std::string("container web-3 exited"); });
  CHECK(failure.find("container web-3 exited") != std::string::npos);
  CHECK(probes.load() == 1);
}

TEST_CASE("a probe to a port nothing listens on is an error, not a status") {
  std::string dead;
  {
    std::atomic<int> probes{0};
    TestBackend gone(scripted({200}, probes));
    dead = gone.address();
  }
  const control::ProbeResult r = control::probe_http(dead, control::HealthCheckOptions{}, 500ms);
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());
}
