// handoff on Docker Swarm: node proxies (`handoff run --swarm`, one per "node", each with its
// own listener on 127.0.0.1) follow one real swarm. The app's tasks use the host's network, each
// on its own 127.0.0.1 port from its slot; every request goes to 127.0.0.1.
#include <doctest/doctest.h>
#include <signal.h>

#include <future>
#include <thread>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/handoff_process.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/swarm_fixture.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wrk_run.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {

// Each version's tasks on their own ports, and each test's apart from the others' (whose tasks
// may still be stopping): 17{side}{slot}{test} (17013, 17023, 17113...).
std::string task_port(int test) {
  return "17{{.Handoff.Side}}{{.Task.Slot}}" + std::to_string(test);
}

std::string get(std::uint16_t port) {
  return request_once(port, "GET / HTTP/1.1\r\nHost: app\r\n\r\n").body;
}

// `handoff deploy` of the test app as VERSION on the swarm, through `proxy`.
CommandResult deploy(const RunningProxy& proxy, const std::string& service, int test,
                     const std::string& version, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"deploy",
                                   service,
                                   "--image",
                                   test_app_image(),
                                   "--task-port",
                                   task_port(test),
                                   "--host",
                                   "app",
                                   "--env",
                                   "APP_VERSION=" + version,
                                   "--health-interval",
                                   "100ms",
                                   "--drain-timeout",
                                   "1s",
                                   "--stop-timeout",
                                   "2s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return proxy.cli(args);
}

// Whether the test's Swarm services come to be `expected` ("NAME RUNNING/DESIRED" lines).
bool versions_settle(const SwarmFixture& swarm, const std::string& expected) {
  return eventually([&] { return swarm.versions() == expected; }, 10s, 100ms);
}

// A node's handoff: `run --swarm` on its own port, control socket and state.
struct Node {
  TempDir dir;
  RunningProxy proxy{dir.path(), {"--swarm"}};
};

}  // namespace

TEST_CASE(
    "two node proxies follow one swarm: deploys and rollbacks from either lose no request under "
    "wrk") {
  SwarmFixture swarm(unique_service("sw"));
  Node a;
  Node b;
  const CommandResult first = deploy(a.proxy, swarm.service(), 1, "v1", {"--replicas", "2"});
  REQUIRE_MESSAGE(first.code == 0, first.out << first.err);
  // When the deploy returns, every node serves the new version.
  CHECK(get(a.proxy.port()) == "v1\n");
  CHECK(get(b.proxy.port()) == "v1\n");
  const std::string host_app = std::string(HANDOFF_SOURCE_DIR) + "/tests/integration/host_app.lua";
  auto load_a =
      std::async(std::launch::async, [&] { return run_wrk(a.proxy.port(), 16, 10, host_app); });
  auto load_b =
      std::async(std::launch::async, [&] { return run_wrk(b.proxy.port(), 16, 10, host_app); });
  REQUIRE(eventually([&] { return a.proxy.requests(swarm.service()) > 200; }, 10s, 20ms));
  for (const auto& [node, version] : {std::pair{&b, "v2"}, std::pair{&a, "v3"}}) {
    const CommandResult r = deploy(node->proxy, swarm.service(), 1, version);
    REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
    CHECK(r.out.find("switch        ") != std::string::npos);
    CHECK(get(a.proxy.port()) == std::string(version) + "\n");
    CHECK(get(b.proxy.port()) == std::string(version) + "\n");
  }
  // A rollback brings the version that served before back on every node, and back again.
  for (const auto& [node, version] : {std::pair{&b, "v2"}, std::pair{&a, "v3"}}) {
    const CommandResult r = node->proxy.cli(
        {"rollback", swarm.service(), "--health-interval", "100ms", "--drain-timeout", "1s"});
    REQUIRE_MESSAGE(r.code == 0, r.out << r.err);
    CHECK(get(a.proxy.port()) == std::string(version) + "\n");
    CHECK(get(b.proxy.port()) == std::string(version) + "\n");
  }
  for (auto* load : {&load_a, &load_b}) {
    const WrkResult result = load->get();
    INFO(result.output);
    CHECK(result.requests > 500);
    CHECK(result.failed() == 0);
  }
  // v3 serves with the replicas v1 had; v2 is kept (scaled to zero) for rollback; v1 is gone.
  const std::string expected = swarm.service() + "-v2 0/0\n" + swarm.service() + "-v3 2/2\n";
  CHECK(versions_settle(swarm, expected));
  CHECK(swarm.versions() == expected);
}

TEST_CASE("a swarm deploy that fails leaves the old version serving and no new Swarm service") {
  SwarmFixture swarm(unique_service("swf"));
  Node a;
  REQUIRE(deploy(a.proxy, swarm.service(), 2, "v1").code == 0);
  const CommandResult bad =
      deploy(a.proxy, swarm.service(), 2, "v2",
             {"--env", "EXIT_AFTER_MS=0", "--env", "EXIT_CODE=3", "--deploy-timeout", "20s"});
  CHECK(bad.code == 1);
  CAPTURE(bad.err);
  CHECK(bad.err.find("a task of " + swarm.service() + "-v2 ") !=
        std::string::npos);  // failed or rejected
  CHECK(get(a.proxy.port()) == "v1\n");
  CHECK(swarm.versions() == swarm.service() + "-v1 1/1\n");
  const CommandResult unhealthy =
      deploy(a.proxy, swarm.service(), 2, "v2", {"--env", "UNHEALTHY=1", "--deploy-timeout", "2s"});
  CHECK(unhealthy.code == 1);
  CHECK(unhealthy.err.find("did not answer 2 consecutive 2xx to GET /up") != std::string::npos);
  CHECK(get(a.proxy.port()) == "v1\n");
  CHECK(swarm.versions() == swarm.service() + "-v1 1/1\n");
}

TEST_CASE("kill -9 of the deploying handoff mid-deploy: the next deploy works, no orphan is left") {
  SwarmFixture swarm(unique_service("swk"));
  Node a;
  Node b;
  REQUIRE(deploy(a.proxy, swarm.service(), 3, "v1").code == 0);
  // v2 starts slowly: the deploy is caught while it waits for the task.
  auto slow = std::async(std::launch::async, [&] {
    return deploy(a.proxy, swarm.service(), 3, "v2", {"--env", "START_DELAY_MS=3000"});
  });
  REQUIRE(eventually(
      [&] { return swarm.versions().find(swarm.service() + "-v2 ") != std::string::npos; }, 10s,
      50ms));
  a.proxy.process().signal(SIGKILL);
  a.proxy.process().wait_exit();
  (void)slow.get();
  CHECK(get(b.proxy.port()) == "v1\n");  // the other node goes on
  const CommandResult again = deploy(b.proxy, swarm.service(), 3, "v3");
  REQUIRE_MESSAGE(again.code == 0, again.out << again.err);
  CHECK(get(b.proxy.port()) == "v3\n");
  const std::string versions = swarm.versions();
  CHECK(versions.find(swarm.service() + "-v2 ") == std::string::npos);  // the orphan is gone
  // The killed node, restarted, catches up from the swarm's record.
  RunningProxy restarted(a.dir.path(), {"--swarm"});
  CHECK(eventually([&] { return get(restarted.port()) == "v3\n"; }, 5s, 20ms));
  // Killed after the switch, while every node drains: the old version is left running, serving
  // no node; the next deploy retires it.
  auto draining = std::async(std::launch::async, [&] {
    return deploy(restarted, swarm.service(), 3, "v4", {"--drain-timeout", "5s"});
  });
  REQUIRE(eventually([&] { return get(b.proxy.port()) == "v4\n"; }, 20s, 20ms));
  restarted.process().signal(SIGKILL);
  restarted.process().wait_exit();
  (void)draining.get();
  CHECK(get(b.proxy.port()) == "v4\n");
  const CommandResult fifth = deploy(b.proxy, swarm.service(), 3, "v5");
  REQUIRE_MESSAGE(fifth.code == 0, fifth.out << fifth.err);
  CHECK(get(b.proxy.port()) == "v5\n");
  // Swarm services are numbered apart from the app's versions: the killed deploy's orphan was
  // number 2, so the app's v3 became number 4 (on the side number 1 was not), v4 number 5 and
  // v5 number 6. Number 5 is kept for rollback; the others are gone.
  const std::string expected = swarm.service() + "-v5 0/0\n" + swarm.service() + "-v6 1/1\n";
  CHECK(versions_settle(swarm, expected));
  CHECK(swarm.versions() == expected);
  // Killed mid-rollback, after its switch: restarted, the node serves what the record says and
  // the next rollback works.
  auto rolling = std::async(std::launch::async, [&] {
    return b.proxy.cli(
        {"rollback", swarm.service(), "--health-interval", "100ms", "--drain-timeout", "5s"});
  });
  REQUIRE(eventually([&] { return get(b.proxy.port()) == "v4\n"; }, 20s, 20ms));
  b.proxy.process().signal(SIGKILL);
  b.proxy.process().wait_exit();
  (void)rolling.get();
  RunningProxy b_again(b.dir.path(), {"--swarm"});
  CHECK(eventually([&] { return get(b_again.port()) == "v4\n"; }, 5s, 20ms));
  const CommandResult back = b_again.cli(
      {"rollback", swarm.service(), "--health-interval", "100ms", "--drain-timeout", "1s"});
  REQUIRE_MESSAGE(back.code == 0, back.out << back.err);
  CHECK(get(b_again.port()) == "v5\n");
}

TEST_CASE("a swarm deploy refuses what it cannot do, before anything changes") {
  SwarmFixture swarm(unique_service("swr"));
  Node a;
  CommandResult r = a.proxy.cli(
      {"deploy", swarm.service(), "--image", test_app_image(), "--task-port", task_port(4)});
  CHECK(r.code == 1);
  CHECK(r.err.find("is new to the swarm: give --host") != std::string::npos);
  r = a.proxy.cli({"deploy", swarm.service(), "--image", test_app_image(), "--host", "app"});
  CHECK(r.code == 1);
  CHECK(r.err.find("needs --task-port") != std::string::npos);
  r = a.proxy.cli({"deploy", swarm.service(), "--image", test_app_image(), "--host", "app",
                   "--task-port", "19{{.Task.Slot}}"});
  CHECK(r.code == 2);  // the CLI's to refuse
  CHECK(r.err.find("must hold {{.Handoff.Side}}") != std::string::npos);
  r = a.proxy.cli({"deploy", swarm.service(), "--image", test_app_image(), "--host", "app",
                   "--task-port", "9{{.Handoff.Side}}{{.Task.Slot}}99"});
  CHECK(r.code == 2);
  CHECK(r.err.find("not a port from 1 to 65535") != std::string::npos);
  r = a.proxy.cli({"deploy", swarm.service(), "--image", test_app_image(), "--host-network",
                   "--task-port", task_port(4)});
  CHECK(r.code == 1);
  CHECK(r.err.find("tasks use their hosts' network") != std::string::npos);
  CHECK(swarm.versions().empty());
  // A new service's host is another's on the swarm: refused, nothing is made.
  REQUIRE(deploy(a.proxy, swarm.service(), 4, "v1").code == 0);
  r = a.proxy.cli({"deploy", swarm.service() + "x", "--image", test_app_image(), "--host", "APP",
                   "--task-port", task_port(4)});
  CHECK(r.code == 1);
  CHECK(r.err.find("host 'app' already routes to service '" + swarm.service() + "'") !=
        std::string::npos);
  CHECK(shell("docker service ls -q --filter label=handoff.service=" + swarm.service() + "x")
            .second.empty());
  // What a node would change on its own is refused: the swarm's records say what serves.
  r = a.proxy.cli({"scale", swarm.service(), "3"});
  CHECK(r.code == 1);
  CHECK(r.err.find("--replicas N") != std::string::npos);
  r = a.proxy.cli({"swap", swarm.service(), "--to", "127.0.0.1:9"});
  CHECK(r.code == 1);
  CHECK(r.err.find("'swap' is not yet run on a swarm") != std::string::npos);
  r = a.proxy.cli({"deploy", swarm.service(), "--image", test_app_image(), "--canary", "10%"});
  CHECK(r.code == 1);
  CHECK(r.err.find("canaries are not yet run on a swarm") != std::string::npos);
  CHECK(get(a.proxy.port()) == "v1\n");
  // Without --swarm, a task port is refused.
  TempDir dir;
  RunningProxy plain(dir.path());
  r = plain.cli(
      {"deploy", swarm.service(), "--image", test_app_image(), "--task-port", task_port(4)});
  CHECK(r.code == 1);
  CHECK(r.err.find("is for a swarm") != std::string::npos);
}

TEST_CASE("run --swarm without a swarm manager to follow exits at once and says why") {
  TempDir dir;
  const auto [code, out] =
      shell("DOCKER_HOST=unix:///nonexistent/docker.sock timeout 10 " + handoff_binary() +
            " run --swarm --listen 127.0.0.1:0 --control " + (dir.path() / "c.sock").string() +
            " --state-dir " + dir.path().string() + " 2>&1");
  CHECK(code == 2);
  CHECK(out.find("handoff: --swarm: cannot reach the Docker engine at /nonexistent/docker.sock") !=
        std::string::npos);
}
