// What a new user runs first: the demo script, and the front-container image.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/wrk_run.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {

std::uint16_t free_port() {
  auto [code, out] = shell(
      "python3 -c 'import socket; s=socket.socket(); "
      "s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'");
  REQUIRE(code == 0);
  return static_cast<std::uint16_t>(std::stoi(out));
}

bool wait_for_port(std::uint16_t port) {
  return eventually(
      [&] {
        try {
          SocketClient probe(port);
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      10s, 50ms);
}

// Builds handoff:test. The tests that need the image take turns (ctest runs two at once): two
// builds at once would compile twice, and starve the other test's load of CPU.
std::string build_image_command() {
  return "cd " HANDOFF_SOURCE_DIR
         " && flock /tmp/handoff-test-image.lock scripts/build-image handoff:test 2>&1";
}

}  // namespace

TEST_CASE("the demo runs end to end and loses no request") {
  TempDir dir;
  const std::string plot = (dir.path() / "demo.png").string();
  auto [code, out] =
      shell("cd " HANDOFF_SOURCE_DIR " && DEMO_PLOT=" + plot + " scripts/demo --short 2>&1");
  INFO(out);
  REQUIRE(code == 0);
  CHECK(out.find("requests failed            0\n") != std::string::npos);
  CHECK(out.find("result: ok") != std::string::npos);
  CHECK(out.find("the slow request finished on: v1") != std::string::npos);
  CHECK(out.find("-> v2") != std::string::npos);
  REQUIRE(std::filesystem::exists(plot));
  CHECK(std::filesystem::file_size(plot) > 10'000);
  std::ifstream png(plot, std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
}

TEST_CASE("the front-container image runs handoff as PID 1 and deploys through it") {
  const std::string app = test_app_image();
  auto [built, build_out] = shell(build_image_command());
  REQUIRE_MESSAGE(built == 0, build_out);
  // The runtime is the binary and its shared libraries on an empty root: small to pull.
  const std::string size = shell("docker image inspect -f '{{.Size}}' handoff:test").second;
  MESSAGE("front-container image: " << std::stoll(size) / (1024 * 1024) << " MiB");
  CHECK(std::stoll(size) <= 40LL * 1024 * 1024);

  TempDir dir;
  const std::string service = unique_service("front");
  const std::string name = service + "-proxy";
  ServiceCleanup cleanup(service);
  std::filesystem::create_directories(dir.path() / "run");
  const std::uint16_t port = free_port();
  auto [ran, id] = shell("docker run -d --name " + name +
                         " --network host -v /var/run/docker.sock:/var/run/docker.sock"
                         " -v " +
                         (dir.path() / "state").string() +
                         ":/var/lib/handoff"
                         " -v " +
                         (dir.path() / "run").string() +
                         ":/run/handoff"
                         " handoff:test run --listen 127.0.0.1:" +
                         std::to_string(port) + " --no-access-log 2>&1");
  struct RemoveProxy {
    std::string name;
    ~RemoveProxy() { shell("docker rm -f " + name + " >/dev/null 2>&1"); }
  } remove_proxy{name};
  REQUIRE_MESSAGE(ran == 0, id);
  REQUIRE_MESSAGE(wait_for_port(port), shell("docker logs " + name + " 2>&1").second);

  // The host CLI reaches the proxy through the bind-mounted socket directory...
  const std::string socket = (dir.path() / "run" / "control.sock").string();
  CommandResult added =
      run_command({"service", "add", service, "--host", "app", "--control", socket});
  REQUIRE_MESSAGE(added.code == 0, added.err);
  // ...and `docker exec` works too.
  auto [deployed, deploy_out] =
      shell("docker exec " + name + " handoff deploy " + service + " --image " + app +
            " --host-network --env APP_VERSION=v1 --health-interval 100ms 2>&1");
  REQUIRE_MESSAGE(deployed == 0, deploy_out);
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: app\r\n\r\n").body == "v1\n");
  CommandResult v2 =
      run_command({"deploy", service, "--image", app, "--host-network", "--env", "APP_VERSION=v2",
                   "--health-interval", "100ms", "--control", socket});
  CHECK_MESSAGE(v2.code == 0, v2.err);
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: app\r\n\r\n").body == "v2\n");
  CHECK(std::filesystem::exists(dir.path() / "state" / "state.json"));

  // docker stop sends SIGTERM to PID 1: handoff drains and exits 0.
  shell("docker stop -t 20 " + name + " >/dev/null 2>&1");
  CHECK(shell("docker inspect -f '{{.State.ExitCode}}' " + name).second == "0\n");
}

TEST_CASE("the front-container upgrades itself ten times under wrk with no failed request") {
  auto [built, build_out] =
      shell(build_image_command() + " && docker tag handoff:test handoff:test-next");
  REQUIRE_MESSAGE(built == 0, build_out);
  TestBackend backend(TestBackend::respond("app"));
  TempDir dir;
  const std::string name = unique_service("front") + "-proxy";
  struct RemoveProxies {
    std::string name;
    ~RemoveProxies() {
      shell("docker ps -aq --filter name=^" + name + " | xargs -r docker rm -f >/dev/null 2>&1");
    }
  } remove_proxies{name};
  std::filesystem::create_directories(dir.path() / "run");
  const std::uint16_t port = free_port();
  // The front as users run it: host networking, the engine's socket, restarted unless stopped;
  // /run/handoff is a volume of its own (the successor shares it by name).
  auto [ran, id] = shell("docker run -d --name " + name +
                         " --restart unless-stopped --network host"
                         " -v /var/run/docker.sock:/var/run/docker.sock -v " +
                         (dir.path() / "state").string() + ":/var/lib/handoff handoff:test run" +
                         " --listen 127.0.0.1:" + std::to_string(port) +
                         " --no-access-log --upstream " + backend.address() + " 2>&1");
  REQUIRE_MESSAGE(ran == 0, id);
  REQUIRE_MESSAGE(wait_for_port(port), shell("docker logs " + name + " 2>&1").second);
  // The listener is bound before the first state is saved: wait for the state, not the port.
  const std::string state_file = (dir.path() / "state" / "state.json").string();
  std::string state_before;
  REQUIRE(eventually([&] {
    state_before = shell("cat " + state_file + " 2>/dev/null").second;
    return !state_before.empty();
  }));
  auto upgrade = [&](const std::string& image) {
    return shell("docker exec " + name + " handoff upgrade --image " + image +
                 " --drain-timeout 5s 2>&1");
  };
  // `docker exec NAME` needs the name back on the serving container between the upgrades.
  auto wait_renamed = [&] {
    return eventually(
        [&] {
          return shell("docker ps -q --filter name=^" + name + "-next").second.empty() &&
                 !shell("docker ps -q --filter name=^" + name + "$").second.empty();
        },
        20s, 100ms);
  };

  // Ten upgrades, alternating the two images, while wrk keeps 50 connections busy: each handover
  // meets responses under way and next requests on their way.
  auto load = std::async(std::launch::async, [&] { return run_wrk(port, 50, 50); });
  std::this_thread::sleep_for(2s);
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    auto [code, out] = upgrade(i % 2 == 0 ? "handoff:test-next" : "handoff:test");
    CHECK_MESSAGE(code == 0, out);
    CHECK(wait_renamed());
  }
  const WrkResult result = load.get();
  CAPTURE(result.output);
  CHECK(result.requests > 1000);
  CHECK(result.failed() == 0);

  // One front container remains, under its old name, from the last image, restarted as before.
  CHECK(wait_renamed());
  CHECK(shell("docker ps -a --filter name=^" + name + " --format '{{.Names}} {{.Image}}'").second ==
        name + " handoff:test\n");
  CHECK(shell("docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' " + name).second ==
        "unless-stopped\n");
  CHECK(shell("cat " + state_file).second == state_before);
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "app");
  // A failing image leaves the front serving and removes what it started.
  auto [bad, bad_out] = upgrade("handoff-no-such-image:none");
  CHECK(bad != 0);
  CHECK(shell("docker ps -aq --filter name=^" + name + "-next").second.empty());
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "app");
}
