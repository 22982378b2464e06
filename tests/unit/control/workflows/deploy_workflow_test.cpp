// The deploy, rollback and restart-reconcile workflows against a FakeEngine: every step made to
// fail in turn, in milliseconds, with a real proxy in front of real (in-process) apps. The same
// workflows run against a real Docker engine in tests/integration/deploy_test.cpp.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <mutex>
#include <stop_token>
#include <thread>

#include "control/monitors/container_watch.hpp"
#include "control/workflows/canary_workflow.hpp"
#include "control/workflows/container_reconcile.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using namespace handoff::test;
using namespace std::chrono_literals;
namespace json = boost::json;

TEST_CASE("a deploy against the fake engine serves the new version and retires the old") {
  Harness h;
  Events first;
  REQUIRE(code_of(h.deploy("app:v1", first)) == "ok");
  CHECK(h.get() == "app:v1");
  const std::string v1 = h.registry.view("web").first_container().name;
  Events second;
  const control::OperationResult r = h.deploy("app:v2", second);
  REQUIRE(code_of(r) == "ok");
  CHECK(h.get() == "app:v2");
  const std::string v2 = h.registry.view("web").first_container().name;
  CHECK(v2 != v1);
  CHECK(h.engine.containers() ==
        std::map<std::string, std::string>{{v1, "exited"}, {v2, "running"}});
  CHECK(second.has("retire", "done"));
  CHECK(r.result.at("cost").as_object().contains("new"));
}

TEST_CASE(
    "a failure at each step before the switch leaves the old version serving, nothing left over") {
  const std::vector<std::pair<EngineFault, std::string>> faults = {
      {EngineFault::pull_fails, "engine_error"},
      {EngineFault::create_fails, "engine_error"},
      {EngineFault::start_fails, "engine_error"},
      {EngineFault::exits_at_start, "container_exited"},
      {EngineFault::never_runs, "container_not_running"},
      {EngineFault::engine_unhealthy, "health_check_failed"},
      {EngineFault::never_healthy, "health_check_failed"},
      {EngineFault::app_unhealthy, "health_check_failed"},
  };
  for (const auto& [fault, code] : faults) {
    Harness h;
    Events setup;
    REQUIRE(code_of(h.deploy("app:v1", setup)) == "ok");
    const std::string v1 = h.registry.view("web").first_container().name;
    h.engine.set_fault(fault);
    control::DeployOptions o =
        Harness::options(fault == EngineFault::pull_fails ? "app:v9" : "app:v2");
    o.swap.health.timeout = 600ms;
    Events events;
    const control::OperationResult r = h.deploy(o.image, events, o);
    CAPTURE(code);
    CHECK(code_of(r) == code);
    CHECK(h.get() == "app:v1");
    // The new container is gone, whatever failed; only the serving one is left.
    CHECK(h.engine.containers() == std::map<std::string, std::string>{{v1, "running"}});
    CHECK(h.registry.view("web").first_container().name == v1);
    // A failure costs the old version nothing: the report says so.
    CHECK(r.result.at("cost").as_object().contains("old"));
    // The next deploy, once the engine behaves, succeeds under a name not used before.
    h.engine.set_fault(EngineFault::none);
    Events again;
    REQUIRE(code_of(h.deploy("app:v3", again)) == "ok");
    CHECK(h.get() == "app:v3");
    const std::string v3 = h.registry.view("web").first_container().name;
    CHECK(h.engine.containers() ==
          std::map<std::string, std::string>{{v1, "exited"}, {v3, "running"}});
    CHECK(h.engine.calls("create") == 3 - (fault == EngineFault::pull_fails ? 1 : 0));
  }
}

TEST_CASE("a failure while retiring the old container is a warning: the deploy succeeded") {
  for (const EngineFault fault : {EngineFault::stop_fails, EngineFault::remove_fails}) {
    Harness h;
    Events e1;
    Events e2;
    REQUIRE(code_of(h.deploy("app:v1", e1)) == "ok");
    REQUIRE(code_of(h.deploy("app:v2", e2)) == "ok");
    h.engine.set_fault(fault);  // app:v3 starts fine; only stop or remove fails
    Events events;
    const control::OperationResult r = h.deploy("app:v3", events);
    CHECK(code_of(r) == "ok");
    CHECK(events.has("retire", "warning"));
    CHECK(events.has("retire", "done"));
    CHECK(h.get() == "app:v3");
    CHECK(h.engine.containers().at(h.registry.view("web").first_container().name) == "running");
  }
}

TEST_CASE("one deadline covers the whole deploy: waiting to run and to be healthy share it") {
  Harness h;
  Events setup;
  REQUIRE(code_of(h.deploy("app:v1", setup)) == "ok");
  // Running after 700 ms, healthy 700 ms after that: each wait fits a 1 s timeout on its own,
  // both together do not.
  h.engine.set_delays(700ms, 700ms);
  control::DeployOptions o = Harness::options("app:v2");
  o.swap.health.timeout = 1s;
  Events events;
  const auto start = std::chrono::steady_clock::now();
  const control::OperationResult r = h.deploy("app:v2", events, o);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(code_of(r) == "health_check_failed");
  CHECK(took < 1400ms);
  CHECK(h.get() == "app:v1");
  // The same delays within a 2 s timeout pass.
  Events again;
  CHECK(code_of(h.deploy("app:v2", again)) == "ok");
}

TEST_CASE("a rollback starts the kept container again and a failed one stops it again") {
  Harness h;
  Events e1;
  Events e2;
  REQUIRE(code_of(h.deploy("app:v1", e1)) == "ok");
  const std::string v1 = h.registry.view("web").first_container().name;
  REQUIRE(code_of(h.deploy("app:v2", e2)) == "ok");
  const std::string v2 = h.registry.view("web").first_container().name;
  Events back;
  REQUIRE(code_of(h.rollback(back)) == "ok");
  CHECK(h.get() == "app:v1");
  CHECK(h.engine.containers() ==
        std::map<std::string, std::string>{{v1, "running"}, {v2, "exited"}});
  // A kept container that fails to come back is stopped again; the current one serves on.
  h.engine.set_fault(EngineFault::app_unhealthy);
  Events failed;
  CHECK(code_of(h.rollback(failed)) == "health_check_failed");
  CHECK(h.get() == "app:v1");
  CHECK(h.engine.containers() ==
        std::map<std::string, std::string>{{v1, "running"}, {v2, "exited"}});
}

TEST_CASE("restart reconciliation removes what an interrupted deploy left and stops kept ones") {
  Harness h;
  Events e1;
  Events e2;
  REQUIRE(code_of(h.deploy("app:v1", e1)) == "ok");
  REQUIRE(code_of(h.deploy("app:v2", e2)) == "ok");
  const std::string v2 = h.registry.view("web").first_container().name;
  // What a crash leaves: a kept container still running (the retire was cut short) and a
  // created container the state does not know (the create was the last step).
  const control::ContainerRef kept = h.registry.view("web").serving.earlier.at(0).at(0);
  h.engine.start(kept.id);
  containers::ContainerSpec orphan;
  orphan.name = "web-9";
  orphan.image = "app:v3";
  orphan.labels = {{"handoff.service", "web"}};
  h.engine.create(orphan);
  control::check_restored_containers(h.registry, h.engine.factory());
  CHECK(h.engine.containers() ==
        std::map<std::string, std::string>{{kept.name, "exited"}, {v2, "running"}});
  CHECK(h.get() == "app:v2");
}

TEST_CASE(
    "a shutdown stops a deploy at its pull or its next wait, before the switch, and removes "
    "what it started") {
  for (EngineFault fault : {EngineFault::pull_hangs, EngineFault::never_runs,
                            EngineFault::never_healthy, EngineFault::app_unhealthy}) {
    Harness h;
    Events setup;
    REQUIRE(code_of(h.deploy("app:v1", setup)) == "ok");
    const std::string v1 = h.registry.view("web").first_container().name;
    h.engine.set_fault(fault);
    control::DeployOptions o = Harness::options("app:v2");
    o.pull = fault == EngineFault::pull_hangs ? "always" : "missing";
    o.swap.health.timeout = 60s;  // only the stop can end it in time
    o.swap.health.interval = 5s;
    Events events;
    std::stop_source stop;
    events.bind_stop(stop.get_token());
    std::thread shutdown([&] {
      std::this_thread::sleep_for(300ms);
      stop.request_stop();
    });
    const auto started = std::chrono::steady_clock::now();
    const control::OperationResult r = h.deploy("app:v2", events, o);
    shutdown.join();
    CAPTURE(static_cast<int>(fault));
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK(code_of(r) == "shutting_down");
    CHECK(r.failure == control::ErrorKind::unavailable);
    CHECK(h.get() == "app:v1");
    CHECK(h.engine.containers() == std::map<std::string, std::string>{{v1, "running"}});
  }
}

namespace {

// The names of the containers in each state.
std::map<std::string, int> by_state(const FakeEngine& engine) {
  std::map<std::string, int> out;
  for (const auto& [name, state] : engine.containers()) {
    out[state] += 1;
  }
  return out;
}

// Deploys app:v1 as `n` replicas; they serve.
void deploy_replicas(Harness& h, int n) {
  control::DeployOptions o = Harness::options("app:v1");
  o.replicas = n;
  Events events;
  REQUIRE(code_of(h.deploy(o.image, events, o)) == "ok");
}

}  // namespace

TEST_CASE("a deploy of three replicas serves from all three, and a redeploy keeps the scale") {
  Harness h;
  deploy_replicas(h, 3);
  CHECK(h.registry.view("web").serving.containers.size() == 3);
  CHECK(h.registry.view("web").service->upstreams()->members().size() == 3);
  CHECK(by_state(h.engine) == std::map<std::string, int>{{"running", 3}});
  Events second;
  REQUIRE(code_of(h.deploy("app:v2", second)) == "ok");  // no --replicas: as many as serve
  CHECK(h.get() == "app:v2");
  CHECK(h.registry.view("web").serving.containers.size() == 3);
  CHECK(by_state(h.engine) == std::map<std::string, int>{{"exited", 3}, {"running", 3}});
  REQUIRE(h.registry.view("web").serving.earlier.size() == 1);
  CHECK(h.registry.view("web").serving.earlier[0].size() == 3);
  // A rollback brings the whole set back.
  Events back;
  REQUIRE(code_of(h.rollback(back)) == "ok");
  CHECK(h.get() == "app:v1");
  CHECK(h.registry.view("web").serving.containers.size() == 3);
  CHECK(by_state(h.engine) == std::map<std::string, int>{{"exited", 3}, {"running", 3}});
}

TEST_CASE("one replica that fails its gate fails the deploy: none of the new set serves") {
  for (const int nth : {1, 2, 3}) {
    Harness h;
    Events setup;
    REQUIRE(code_of(h.deploy("app:v1", setup)) == "ok");
    const std::string v1 = h.registry.view("web").first_container().name;
    h.engine.set_fault_on_create(nth, EngineFault::app_unhealthy);
    control::DeployOptions o = Harness::options("app:v2");
    o.replicas = 3;
    o.swap.health.timeout = 600ms;
    Events events;
    CAPTURE(nth);
    CHECK(code_of(h.deploy(o.image, events, o)) == "health_check_failed");
    CHECK(h.get() == "app:v1");
    CHECK(h.engine.containers() == std::map<std::string, std::string>{{v1, "running"}});
    CHECK(h.registry.view("web").serving.containers.size() == 1);
  }
}

TEST_CASE("a replica whose container dies is ejected within a second, from the engine's events") {
  Harness h;
  deploy_replicas(h, 3);
  control::ContainerWatch watch(h.registry, h.engine.factory());
  watch.start();
  // The watch has seen them run once it has looked at the engine's containers.
  REQUIRE(eventually([&] { return h.engine.calls("watch_deaths_scan") > 0; }));
  const control::ContainerRef doomed = h.registry.view("web").serving.containers.at(1);
  const auto member = h.registry.view("web").service->upstreams()->members().at(1);
  h.engine.kill(doomed.name);
  const auto start = std::chrono::steady_clock::now();
  eventually([&] { return member->ejected(); }, 2s);
  CHECK(member->ejection() == proxy::Ejection::container_died);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  // The others serve every request.
  for (int i = 0; i < 30; ++i) {
    CHECK(h.get() == "app:v1");
  }
  watch.stop();
}

TEST_CASE("scale adds gated replicas like the serving ones and drops replicas without a deploy") {
  Harness h;
  Events setup;
  REQUIRE(code_of(h.deploy("app:v1", setup)) == "ok");
  const auto first = h.registry.view("web").service->upstreams()->members().front();
  const auto scale = [&h](int n, Events& events) {
    control::SwapOptions swap = Harness::options("").swap;
    return control::prepare_scale(h.registry, h.server, h.engine.factory(), "web", n, swap)(events);
  };
  Events up;
  REQUIRE(code_of(scale(3, up)) == "ok");
  CHECK(h.registry.view("web").serving.containers.size() == 3);
  const auto members = h.registry.view("web").service->upstreams()->members();
  REQUIRE(members.size() == 3);
  CHECK(members.front() == first);  // the serving member stays as it is
  CHECK_FALSE(first->retired());
  CHECK(by_state(h.engine) == std::map<std::string, int>{{"running", 3}});
  std::map<std::string, int> answers;
  for (int i = 0; i < 30; ++i) {
    answers[h.get()] += 1;
  }
  CHECK(answers == std::map<std::string, int>{{"app:v1", 30}});
  // One new replica that fails its gate: none joins.
  h.engine.set_fault_on_create(2, EngineFault::app_unhealthy);
  Events failing;
  control::SwapOptions fast = Harness::options("").swap;
  fast.health.timeout = 600ms;
  CHECK(code_of(control::prepare_scale(h.registry, h.server, h.engine.factory(), "web", 5,
                                       fast)(failing)) == "health_check_failed");
  CHECK(h.registry.view("web").serving.containers.size() == 3);
  CHECK(by_state(h.engine) == std::map<std::string, int>{{"running", 3}});
  Events down;
  REQUIRE(code_of(scale(1, down)) == "ok");
  CHECK(h.registry.view("web").serving.containers.size() == 1);
  CHECK(h.registry.view("web").service->upstreams()->members().front() == first);
  CHECK(by_state(h.engine) == std::map<std::string, int>{{"running", 1}});
  CHECK(h.registry.view("web")
            .serving.earlier.empty());  // dropped replicas are not kept for rollback
  // A service that does not run in containers is told to use swap.
  h.registry.add("plain", {"plain.test"}, "127.0.0.1:9");
  CHECK_THROWS_AS(
      (void)control::prepare_scale(h.registry, h.server, h.engine.factory(), "plain", 2, fast),
      control::DomainError);
}

TEST_CASE(
    "a container canary is promoted with the old set stopped, and dropped even when the "
    "engine is unreachable") {
  Harness h;
  Events v1;
  REQUIRE(code_of(h.deploy("app:v1", v1)) == "ok");
  const std::string v1_name = h.registry.view("web").first_container().name;
  control::DeployOptions canary = Harness::options("app:v2");
  canary.swap.canary_share = 10'000;  // every new client
  Events v2;
  REQUIRE(code_of(h.deploy("app:v2", v2, canary)) == "ok");
  CHECK(h.get() == "app:v2");
  CHECK(h.registry.view("web").first_container().name == v1_name);  // still the serving one
  Events promoted;
  REQUIRE(code_of(control::prepare_promote(h.registry, h.server, h.engine.factory(), "web",
                                           Harness::options("app:v2"))(promoted)) == "ok");
  CHECK(h.get() == "app:v2");
  CHECK_FALSE(h.registry.view("web").canary);
  CHECK(h.engine.containers().at(v1_name) == "exited");  // kept for rollback
  CHECK(h.registry.view("web").serving.deploy.image == "app:v2");

  canary.image = "app:v3";
  Events v3;
  REQUIRE(code_of(h.deploy("app:v3", v3, canary)) == "ok");
  CHECK(h.get() == "app:v3");
  const std::string v3_name = h.registry.view("web").canary->containers.at(0).name;
  const control::EngineFactory unreachable = []() -> std::unique_ptr<containers::Engine> {
    throw containers::EngineError(0, "cannot connect to the Docker engine");
  };
  Events dropped;
  REQUIRE(code_of(control::prepare_canary_rollback(h.registry, h.server, unreachable, "web",
                                                   Harness::options("app:v2"),
                                                   "failing")(dropped)) == "ok");
  CHECK(h.get() == "app:v2");  // traffic left the canary all the same
  CHECK(dropped.has("retire", "warning"));
  CHECK(h.engine.containers().at(v3_name) == "running");  // for the next start to reconcile
}
