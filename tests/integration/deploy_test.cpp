// `handoff deploy` and container rollback against a real Docker engine. Containers use the
// host's network and every request goes to 127.0.0.1.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>
#include <future>
#include <optional>
#include <random>
#include <thread>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/handoff_process.hpp"
#include "tests/support/load_generator.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/unix_http.hpp"
#include "tests/support/wrk_run.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string get(std::uint16_t port, const std::string& path = "/") {
  return request_once(port, "GET " + path + " HTTP/1.1\r\nHost: app\r\n\r\n").body;
}

// `handoff deploy SERVICE` of the test app image with fast health checks.
CommandResult deploy(const RunningProxy& proxy, const std::string& service,
                     std::vector<std::string> extra) {
  std::vector<std::string> args = {"deploy",         service,          "--image",
                                   test_app_image(), "--host-network", "--health-interval",
                                   "100ms",          "--stop-timeout", "2s"};
  args.insert(args.end(), extra.begin(), extra.end());
  return proxy.cli(args);
}

// A proxy whose service `default` starts with no reachable upstream, ready to be deployed.
struct DeployFixture {
  TempDir dir;
  std::string service = "default";
  std::string prefix = unique_service("app");
  ServiceCleanup cleanup{prefix};
  RunningProxy proxy{dir.path()};

  DeployFixture() {
    // Containers are labelled with the service name; a per-run name keeps runs apart.
    service = prefix;
    REQUIRE(
        proxy.cli({"service", "add", service, "--host", "app", "--upstream", "127.0.0.1:9"}).code ==
        0);
  }

  CommandResult deploy_version(const std::string& version, std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--env", "APP_VERSION=" + version});
    return deploy(proxy, service, extra);
  }
};

}  // namespace

TEST_CASE("deploys v1 -> v2 -> v3 under load lose no request and retire old containers") {
  DeployFixture f;
  CommandResult v1 = f.deploy_version("v1");
  REQUIRE_MESSAGE(v1.code == 0, v1.out << v1.err);
  CHECK(get(f.proxy.port()) == "v1\n");

  LoadGenerator load(f.proxy.port());
  REQUIRE(eventually([&] { return load.ok() >= 20; }));  // the load runs
  CommandResult v2 = f.deploy_version("v2");
  CHECK_MESSAGE(v2.code == 0, v2.out << v2.err);
  CHECK(v2.out.find("create        " + f.prefix + "-3 from") != std::string::npos);
  CHECK(v2.out.find("retire        stopped " + f.prefix + "-2") != std::string::npos);
  CommandResult v3 = f.deploy_version("v3");
  CHECK_MESSAGE(v3.code == 0, v3.out << v3.err);
  CHECK(eventually([&] { return load.bodies()["v3\n"] >= 20; }));  // the load reaches v3
  load.stop();

  MESSAGE("requests ok: " << load.ok() << ", failed: " << load.failed());
  CHECK(load.failed() == 0);
  for (const auto& f : load.failures()) {
    MESSAGE("failure: " << f);
  }
  auto bodies = load.bodies();
  CHECK(bodies["v1\n"] > 0);
  CHECK(bodies["v2\n"] > 0);
  CHECK(bodies["v3\n"] > 0);
  CHECK(get(f.proxy.port()) == "v3\n");

  // v3 runs, v2 is kept stopped for rollback (--keep 1), v1 is gone.
  auto containers = service_containers(f.service);
  CHECK(containers.size() == 2);
  CHECK(containers[f.prefix + "-4"] == "running");
  CHECK(containers[f.prefix + "-3"] == "exited");

  CommandResult status = f.proxy.cli({"status", "--json"});
  CHECK(status.out.find("\"name\":\"" + f.prefix + "-4\"") != std::string::npos);
  CHECK(status.out.find("\"image\":\"" + test_app_image() + "\"") != std::string::npos);
}

TEST_CASE("a slow request in flight on the old container completes during the deploy") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  auto slow = std::async(std::launch::async, [&] { return get(f.proxy.port(), "/slow?ms=5000"); });
  REQUIRE(eventually([&] { return f.proxy.in_flight(f.service) == 1; }));
  CommandResult v2 = f.deploy_version("v2");
  CHECK_MESSAGE(v2.code == 0, v2.out << v2.err);
  CHECK(v2.out.find("drain         1 in flight") != std::string::npos);
  CHECK(slow.get() == "v1\n");
  CHECK(get(f.proxy.port()) == "v2\n");
}

TEST_CASE("an unhealthy new version fails the deploy and the old one keeps serving") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  LoadGenerator load(f.proxy.port());
  // Long enough for a health check to be answered (503) even on a loaded sanitizer build.
  CommandResult bad = f.deploy_version("v2", {"--env", "UNHEALTHY=1", "--deploy-timeout", "3s"});
  load.stop();
  CHECK(bad.code == 1);
  CHECK(bad.err.find("deploy failed") != std::string::npos);
  CHECK(bad.err.find("HTTP 503") != std::string::npos);
  CHECK(bad.err.find("last log lines of " + f.prefix + "-3") != std::string::npos);
  CHECK(bad.out.find("cleanup       removed " + f.prefix + "-3") != std::string::npos);
  CHECK(load.failed() == 0);
  CHECK(get(f.proxy.port()) == "v1\n");
  auto containers = service_containers(f.service);
  CHECK(containers.size() == 1);
  CHECK(containers[f.prefix + "-2"] == "running");
}

TEST_CASE("a container that exits at start fails the deploy with its exit code and logs") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  CommandResult bad =
      f.deploy_version("v2", {"--env", "EXIT_AFTER_MS=200", "--env", "EXIT_CODE=3"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("exited with code 3") != std::string::npos);
  CHECK(bad.err.find("exiting with code 3 as told") != std::string::npos);
  CHECK(get(f.proxy.port()) == "v1\n");
  CHECK(service_containers(f.service).size() == 1);
}

TEST_CASE("bad deploy input is refused and changes nothing") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  // The next container's name is taken by something else: the engine's 409 is passed on.
  shell("docker create --name " + f.prefix + "-3 " + test_app_image() + " >/dev/null 2>&1");
  CommandResult conflict = f.deploy_version("v2");
  CHECK(conflict.code == 1);
  CHECK(conflict.err.find("is already in use") != std::string::npos);
  shell("docker rm -f " + f.prefix + "-3 >/dev/null 2>&1");
  // --pull never: a missing image is an error here, and no registry outside is asked.
  CommandResult unknown = f.proxy.cli({"deploy", f.service, "--image", "handoff-no-such-image:1",
                                       "--host-network", "--pull", "never"});
  CHECK(unknown.code == 1);
  CHECK(unknown.err.find("handoff-no-such-image:1 is not on the engine") != std::string::npos);
  CommandResult env = f.proxy.cli(
      {"deploy", f.service, "--image", test_app_image(), "--host-network", "--env", "NOEQUALS"});
  CHECK(env.code == 2);
  CHECK(env.err.find("bad env 'NOEQUALS'") != std::string::npos);
  CommandResult network = f.proxy.cli(
      {"deploy", f.service, "--image", test_app_image(), "--network", "handoff-no-such-network"});
  CHECK(network.code == 1);
  CHECK(network.err.find("handoff-no-such-network") != std::string::npos);
  CommandResult neither = f.proxy.cli({"deploy", f.service, "--image", test_app_image()});
  CHECK(neither.code == 1);  // refused by the proxy: only it knows whether it runs on a swarm
  CHECK(neither.err.find("give one of --network NAME") != std::string::npos);
  CHECK(get(f.proxy.port()) == "v1\n");
  CHECK(service_containers(f.service).size() == 1);
}

TEST_CASE("a deploy with the engine down fails plainly and the service keeps serving") {
  TempDir dir;
  std::string service = unique_service("down");
  ::setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock", 1);
  RunningProxy proxy(dir.path());
  ::unsetenv("DOCKER_HOST");
  REQUIRE(proxy.cli({"service", "add", service, "--upstream", "127.0.0.1:9"}).code == 0);
  CommandResult r = proxy.cli({"deploy", service, "--image", "anything:1", "--host-network"});
  CHECK(r.code == 1);
  CHECK(r.err.find("cannot reach the Docker engine at /nonexistent/docker.sock") !=
        std::string::npos);
  CHECK(r.err.find("is dockerd running?") != std::string::npos);
}

TEST_CASE("rollback starts the kept container again and retires the current one") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  REQUIRE(f.deploy_version("v2").code == 0);
  CHECK(get(f.proxy.port()) == "v2\n");
  LoadGenerator load(f.proxy.port());
  CommandResult back = f.proxy.cli({"rollback", f.service, "--health-interval", "100ms"});
  load.stop();
  CHECK_MESSAGE(back.code == 0, back.out << back.err);
  CHECK(load.failed() == 0);
  CHECK(get(f.proxy.port()) == "v1\n");
  auto containers = service_containers(f.service);
  CHECK(containers[f.prefix + "-2"] == "running");
  CHECK(containers[f.prefix + "-3"] == "exited");
}

TEST_CASE("a restarted proxy restores routing to its containers and reports missing ones") {
  TempDir dir;
  std::string service = unique_service("restart");
  ServiceCleanup cleanup(service);
  {
    RunningProxy proxy(dir.path());
    REQUIRE(
        proxy.cli({"service", "add", service, "--host", "app", "--upstream", "127.0.0.1:9"}).code ==
        0);
    REQUIRE(deploy(proxy, service, {"--env", "APP_VERSION=v1"}).code == 0);
    proxy.process().signal(SIGTERM);
    REQUIRE(proxy.process().wait_exit() == 0);
  }
  {
    RunningProxy again(dir.path());
    CHECK(get(again.port()) == "v1\n");
    CHECK(again.cli({"status"}).out.find(service + "-2") != std::string::npos);
    again.process().signal(SIGTERM);
    REQUIRE(again.process().wait_exit() == 0);
  }
  shell("docker rm -f " + service + "-2 >/dev/null 2>&1");
  RunningProxy third(dir.path());
  CHECK(eventually([&] {
    return third.process().stderr_text().find("container " + service + "-2 is missing") !=
           std::string::npos;
  }));
  CHECK(third.cli({"status", "--json"}).out.find("is missing") != std::string::npos);
}

TEST_CASE("rollback goes to the version that served before, and --keep counts served order") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);  // -2
  REQUIRE(f.deploy_version("v3").code == 0);  // -3; v1 kept
  REQUIRE(f.proxy.cli({"rollback", f.service, "--health-interval", "100ms"}).code == 0);
  CHECK(get(f.proxy.port()) == "v1\n");
  CommandResult v2 = f.deploy_version("v2");  // -4: v1 served last before it, so v1 is kept
  REQUIRE_MESSAGE(v2.code == 0, v2.out << v2.err);
  auto containers = service_containers(f.service);
  CHECK(containers.size() == 2);
  CHECK(containers[f.prefix + "-4"] == "running");
  CHECK(containers[f.prefix + "-2"] == "exited");
  CHECK(containers.count(f.prefix + "-3") == 0);
  REQUIRE(f.proxy.cli({"rollback", f.service, "--health-interval", "100ms"}).code == 0);
  CHECK(get(f.proxy.port()) == "v1\n");
  REQUIRE(f.proxy.cli({"rollback", f.service, "--health-interval", "100ms"}).code == 0);
  CHECK(get(f.proxy.port()) == "v2\n");  // and back: v2 served just before v1
}

namespace {

// Starts a deploy (or another workflow: `action`) through the control socket and returns once
// its event stream shows `step` (with the connection still open), so the proxy can be killed
// right at that step.
int deploy_until_step(const RunningProxy& proxy, const std::string& body, const std::string& step,
                      const std::string& action = "deploy") {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, proxy.control().c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string request = "POST /v1/services/" + body.substr(0, body.find(' ')) + "/" + action +
                              " HTTP/1.1\r\nHost: h\r\nAccept: application/x-ndjson\r\n"
                              "Content-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size() - body.find(' ') - 1) + "\r\n\r\n" +
                              body.substr(body.find(' ') + 1);
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string seen;
  char buf[4096];
  while (seen.find("\"step\":\"" + step + "\"") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    REQUIRE_MESSAGE(n > 0, "the deploy ended before step ", step, ": ", seen);
    seen.append(buf, static_cast<std::size_t>(n));
  }
  return fd;
}

}  // namespace

TEST_CASE("kill -9 at each deploy step, then a restart: the next deploy works, nothing is left") {
  for (const int replicas : {1, 2}) {
    for (std::string step : {"create", "start", "health_check", "swap", "drain", "retire"}) {
      CAPTURE(step);
      CAPTURE(replicas);
      DeployFixture f;
      REQUIRE(f.deploy_version("v1", {"--replicas", std::to_string(replicas)}).code == 0);
      // v2 starts slowly (so the health gate lasts), and a slow request keeps the drain going.
      auto slow =
          std::async(std::launch::async, [&] { return get(f.proxy.port(), "/slow?ms=3000"); });
      REQUIRE(eventually([&] { return f.proxy.in_flight(f.service) == 1; }));
      const std::string body =
          f.service + R"( {"image":")" + test_app_image() +
          R"(","host_network":true,"health_interval":"100ms",)"
          R"("stop_timeout":"2s","env":["APP_VERSION=v2","START_DELAY_MS=800"]})";
      const int stream = deploy_until_step(f.proxy, body, step);
      f.proxy.process().signal(SIGKILL);
      f.proxy.process().wait_exit();
      ::close(stream);
      slow.wait();

      RunningProxy again(f.dir.path());
      const std::string served = get(again.port());
      CHECK((served == "v1\n" || served == "v2\n"));  // a live container, never a dead one
      CommandResult v3 = deploy(again, f.service, {"--env", "APP_VERSION=v3"});
      CHECK_MESSAGE(v3.code == 0, v3.out << v3.err);
      CHECK(get(again.port()) == "v3\n");
      // v3 serving, and the set before it kept for rollback; nothing else.
      auto containers = service_containers(f.service);
      CHECK(containers.size() == 2 * static_cast<std::size_t>(replicas));
      std::size_t running = 0;
      for (const auto& [name, state] : containers) {
        running += state == "running" ? 1 : 0;
      }
      CHECK(running == static_cast<std::size_t>(replicas));
      again.process().signal(SIGTERM);
      again.process().wait_exit();
    }
  }
}

TEST_CASE(
    "deploy creates a missing service with its hosts, and a failed first deploy leaves none") {
  TempDir dir;
  const std::string service = unique_service("fresh");
  ServiceCleanup cleanup(service);
  RunningProxy proxy(dir.path());
  CommandResult bad = deploy(
      proxy, service, {"--host", "fresh.test", "--env", "UNHEALTHY=1", "--deploy-timeout", "1s"});
  CHECK(bad.code == 1);
  CHECK(proxy.cli({"status", "--json"}).out.find("\"name\":\"" + service + "\"") ==
        std::string::npos);  // the service the failed deploy made is gone again
  CommandResult ok = deploy(proxy, service, {"--host", "fresh.test", "--env", "APP_VERSION=v1"});
  CHECK_MESSAGE(ok.code == 0, ok.out << ok.err);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: fresh.test\r\n\r\n").body == "v1\n");
  // For an existing service, hosts change through `service update`, never as a deploy side effect.
  CommandResult again = deploy(proxy, service, {"--host", "other.test"});
  CHECK(again.code == 1);
  CHECK(again.err.find("service update") != std::string::npos);
}

TEST_CASE("handoff logs prints the serving container's last lines") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  const CommandResult logs = f.proxy.cli({"logs", f.service, "--tail", "5"});
  CHECK(logs.code == 0);
  CHECK(logs.out.find("listening") != std::string::npos);
  const CommandResult none = f.proxy.cli({"logs", "nope"});
  CHECK(none.code == 1);
}

TEST_CASE("handoff logs --follow prints output as it comes, across a deploy, until interrupted") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  HandoffProcess follow(
      {"logs", f.service, "--follow", "--tail", "5", "--control", f.proxy.control()}, true);
  auto printed = [&](const std::string& text) {
    return eventually([&] { return follow.stdout_text().find(text) != std::string::npos; });
  };
  CHECK(printed("test app v1 listening"));
  const CommandResult v2 = f.deploy_version("v2");
  REQUIRE_MESSAGE(v2.code == 0, v2.out << v2.err);
  CHECK(printed("test app v2 listening"));
  CHECK(follow.stderr_text().find("now following " + f.prefix + "-3") != std::string::npos);
  follow.signal(SIGINT);
  CHECK(follow.wait_exit(5s) != -1);
  // The proxy notices the reader left (its next heartbeat write fails) and ends the stream: a
  // SIGTERM then has no running operation to wait for.
  std::this_thread::sleep_for(4s);
  f.proxy.process().signal(SIGTERM);
  CHECK(f.proxy.process().wait_exit(10s) == 0);
  CHECK(f.proxy.process().stderr_text().find("running operation") == std::string::npos);
}

TEST_CASE("random deploys, failed deploys and rollbacks match a reference model") {
  // The model: the version serving, and the versions that served before it, most recent first.
  // A rollback swaps the current with the first of those; --keep 1 keeps one of them.
  struct Model {
    std::string current;
    std::vector<std::string> before;
  } model;
  DeployFixture f;
  std::mt19937 random(20261126);
  int next_version = 1;
  for (int step = 0; step < 10; ++step) {
    const int op = step == 0 ? 0 : static_cast<int>(random() % 3);
    if (op == 0) {  // a deploy that succeeds
      // (Built by appending: GCC 12 warns falsely about "literal" + std::string here.)
      std::string version = "v";
      version += std::to_string(next_version++);
      CAPTURE(version);
      REQUIRE(f.deploy_version(version).code == 0);
      if (!model.current.empty()) {
        model.before.insert(model.before.begin(), model.current);
      }
      model.current = version;
      model.before.resize(std::min<std::size_t>(model.before.size(), 1));
    } else if (op == 1) {  // a deploy that fails its health gate: nothing changes
      CHECK(f.deploy_version("bad", {"--env", "UNHEALTHY=1", "--deploy-timeout", "1s"}).code == 1);
    } else {  // a rollback, refused when nothing is kept
      const CommandResult back = f.proxy.cli({"rollback", f.service, "--health-interval", "100ms"});
      if (model.before.empty()) {
        CHECK(back.code == 1);
      } else {
        CHECK_MESSAGE(back.code == 0, back.out << back.err);
        std::swap(model.current, model.before.front());
      }
    }
    CAPTURE(step);
    CHECK(get(f.proxy.port()) == model.current + "\n");
    auto containers = service_containers(f.service);
    CHECK(containers.size() == 1 + model.before.size());
    std::size_t running = 0;
    for (const auto& [name, state] : containers) {
      running += state == "running" ? 1 : 0;
    }
    CHECK(running == 1);
  }
}

// The model of a service's sets for the canary model test: what serves, what runs beside it
// as a canary, and the set kept for a rollback.
struct SetModel {
  std::string version;
  std::size_t replicas = 0;
};
struct CanaryModel {
  SetModel current;
  std::optional<SetModel> kept;
  std::optional<std::string> canary;
};

// Checks the service against the model: the canary in status, the serving members, which
// version each side answers (a client's cookie picks its side), and the running containers.
void check_against(DeployFixture& f, const CanaryModel& model) {
  const json::value status = json::parse(f.proxy.cli({"status", "--json"}).out);
  for (const json::value& s : status.at("services").as_array()) {
    if (s.at("name").as_string() == f.service) {
      CHECK(s.at("canary").is_null() == !model.canary.has_value());
      CHECK(s.at("members").as_array().size() == model.current.replicas);
    }
  }
  auto side = [&](int bucket) {
    return request_once(f.proxy.port(), "GET / HTTP/1.1\r\nHost: app\r\nCookie: handoff_canary=" +
                                            std::to_string(bucket) + "\r\n\r\n")
        .body;
  };
  CHECK(side(9999) == model.current.version + "\n");
  if (model.canary) {
    CHECK(side(0) == *model.canary + "\n");
  }
  std::size_t running = 0;
  for (const auto& [name, state] : service_containers(f.service)) {
    running += state == "running" ? 1 : 0;
  }
  CHECK(running == model.current.replicas + (model.canary ? 1 : 0));
}

TEST_CASE("random canaries, promotions, rollbacks and scales match a reference model") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  CanaryModel model{{"v1", 1}, std::nullopt, std::nullopt};
  std::mt19937 random(20261207);
  int next_version = 2;
  for (int step = 0; step < 12; ++step) {
    const auto op = random() % 4;
    CAPTURE(step);
    CAPTURE(op);
    if (op == 0) {  // a canary deploy: refused while one runs
      std::string version = "v";
      version += std::to_string(next_version++);
      const CommandResult r = f.deploy_version(version, {"--canary", "50%"});
      CHECK_MESSAGE(r.code == (model.canary ? 1 : 0), r.out << r.err);
      if (!model.canary) {
        model.canary = version;
      }
    } else if (op == 1) {  // promote: the canary serves everything, the old set is kept
      const CommandResult r = f.proxy.cli({"promote", f.service});
      CHECK_MESSAGE(r.code == (model.canary ? 0 : 1), r.out << r.err);
      if (model.canary) {
        model.kept = model.current;
        model.current = {*model.canary, 1};
        model.canary.reset();
      }
    } else if (op == 2) {  // rollback: ends a canary, else goes back to the kept set
      // The end of a canary takes only its drain's flags; a rollback to the kept set is gated.
      const CommandResult r =
          model.canary ? f.proxy.cli({"rollback", f.service})
                       : f.proxy.cli({"rollback", f.service, "--health-interval", "100ms"});
      const bool possible = model.canary || model.kept;
      CHECK_MESSAGE(r.code == (possible ? 0 : 1), r.out << r.err);
      if (model.canary) {
        model.canary.reset();
      } else if (model.kept) {
        std::swap(model.current, *model.kept);
      }
    } else {  // scale: refused while a canary runs
      const std::size_t n = 1 + random() % 3;
      const CommandResult r =
          f.proxy.cli({"scale", f.service, std::to_string(n), "--health-interval", "100ms"});
      CHECK_MESSAGE(r.code == (model.canary ? 1 : 0), r.out << r.err);
      if (!model.canary) {
        model.current.replicas = n;
      }
    }
    check_against(f, model);
  }
}

TEST_CASE("an image that is not local is pulled from a registry, and a bad pull changes nothing") {
  // Debian's docker-registry on 127.0.0.1:5000 (scripts/test starts it).
  REQUIRE_MESSAGE(shell("curl -fsS -o /dev/null http://127.0.0.1:5000/v2/").first == 0,
                  "no registry answers on 127.0.0.1:5000 (scripts/start-registry starts one)");
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  const std::string remote = "127.0.0.1:5000/" + f.prefix + ":v2";
  REQUIRE(shell("docker tag " + test_app_image() + " " + remote + " && docker push " + remote +
                " >/dev/null 2>&1 && docker rmi " + remote + " >/dev/null 2>&1")
              .first == 0);
  REQUIRE(shell("docker image inspect " + remote + " >/dev/null 2>&1").first != 0);

  // --pull never refuses a missing image; a missing tag and a registry that is down are clear
  // errors; none of them changes what serves.
  CommandResult never =
      f.proxy.cli({"deploy", f.service, "--image", remote, "--host-network", "--pull", "never"});
  CHECK(never.code == 1);
  CHECK(never.err.find("--pull is never") != std::string::npos);
  CommandResult missing =
      f.proxy.cli({"deploy", f.service, "--image", "127.0.0.1:5000/" + f.prefix + ":no-such-tag",
                   "--host-network"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("cannot pull") != std::string::npos);
  CommandResult down = f.proxy.cli(
      {"deploy", f.service, "--image", "127.0.0.1:9/" + f.prefix + ":v2", "--host-network"});
  CHECK(down.code == 1);
  CHECK(down.err.find("127.0.0.1:9") != std::string::npos);
  CHECK(get(f.proxy.port()) == "v1\n");

  CommandResult pulled = f.proxy.cli({"deploy", f.service, "--image", remote, "--host-network",
                                      "--env", "APP_VERSION=v2", "--health-interval", "100ms"});
  CHECK_MESSAGE(pulled.code == 0, pulled.out << pulled.err);
  CHECK(pulled.out.find("pull          done") != std::string::npos);
  CHECK(get(f.proxy.port()) == "v2\n");
  shell("docker rmi -f " + remote + " >/dev/null 2>&1");
}

TEST_CASE("kill -9 during the first deploy that creates a service, then the same command works") {
  TempDir dir;
  const std::string service = unique_service("made");
  ServiceCleanup cleanup(service);
  auto proxy = std::make_unique<RunningProxy>(dir.path());
  const std::string body = service + R"( {"image":")" + test_app_image() +
                           R"(","hosts":["made.test"],"host_network":true,)"
                           R"("health_interval":"100ms","env":["START_DELAY_MS=800"]})";
  const int stream = deploy_until_step(*proxy, body, "health_check");
  proxy->process().signal(SIGKILL);
  proxy->process().wait_exit();
  ::close(stream);
  proxy = std::make_unique<RunningProxy>(dir.path());
  // The same command again: the service the first run made is taken as it is.
  CommandResult again = deploy(*proxy, service, {"--host", "made.test", "--env", "APP_VERSION=v1"});
  CHECK_MESSAGE(again.code == 0, again.out << again.err);
  CHECK(request_once(proxy->port(), "GET / HTTP/1.1\r\nHost: made.test\r\n\r\n").body == "v1\n");
  auto containers = service_containers(service);
  CHECK(containers.size() == 1);  // the interrupted deploy's container was removed at start
}

namespace {

// Which replica (by its port, from the test app's /whoami) answered each of `n` GETs.
std::map<std::string, int> replicas_answering(std::uint16_t port, int n) {
  std::map<std::string, int> out;
  for (int i = 0; i < n; ++i) {
    out[get(port, "/whoami")] += 1;
  }
  return out;
}

// Whether exactly `n` different replicas answer, asking until they all have (at most 10 s).
// The balancer weighs each member's answer times, and a new replica's first answer comes over a
// new connection: until that sample ages (it halves every 500 ms), the replica takes few
// requests.
bool replicas_all_answer(std::uint16_t port, std::size_t n) {
  std::map<std::string, int> seen;
  const bool all = eventually([&] {
    seen.merge(replicas_answering(port, 10));
    return seen.size() >= n;
  });
  return all && seen.size() == n;
}

// Each member of `service` as status shows it: container name -> health.
std::map<std::string, std::string> members_by_container(const RunningProxy& proxy,
                                                        const std::string& service) {
  const boost::json::value status =
      boost::json::parse(unix_request(proxy.control(), "GET", "/v1/status").body);
  std::map<std::string, std::string> out;
  for (const auto& s : status.at("services").as_array()) {
    if (s.at("name").as_string() != service) {
      continue;
    }
    for (const auto& m : s.at("members").as_array()) {
      out[std::string(m.at("container").as_string())] = std::string(m.at("health").as_string());
    }
  }
  return out;
}

}  // namespace

TEST_CASE("three replicas serve in turn, and one killed under GET load costs no request") {
  DeployFixture f;
  const CommandResult v1 = f.deploy_version("v1", {"--replicas", "3"});
  REQUIRE_MESSAGE(v1.code == 0, v1.out << v1.err);
  CHECK(replicas_all_answer(f.proxy.port(), 3));
  const auto members = members_by_container(f.proxy, f.service);
  REQUIRE(members.size() == 3);
  const std::string doomed = std::next(members.begin())->first;

  auto load = std::async(std::launch::async, [&] {
    return run_wrk(f.proxy.port(), 6, 20,
                   std::string(HANDOFF_SOURCE_DIR) + "/tests/integration/host_app.lua");
  });
  REQUIRE(eventually([&] { return f.proxy.requests(f.service) > 500; }, 10s, 20ms));
  REQUIRE(shell("docker kill " + doomed + " >/dev/null").first == 0);
  const auto killed = std::chrono::steady_clock::now();
  eventually([&] { return members_by_container(f.proxy, f.service)[doomed] != "healthy"; }, 3s,
             20ms);
  const auto noticed = std::chrono::steady_clock::now() - killed;
  CHECK(members_by_container(f.proxy, f.service)[doomed].starts_with("ejected"));
  CHECK(noticed < 1s);
  const WrkResult result = load.get();
  INFO(result.output);
  CHECK(result.requests > 1000);
  CHECK(result.failed() == 0);
  // The engine's word is what status shows, and the two others serve everything.
  CHECK(members_by_container(f.proxy, f.service)[doomed] == "ejected: container died");
  CHECK(f.proxy.cli({"status"}).out.find("ejected: container died") != std::string::npos);
  CHECK(replicas_answering(f.proxy.port(), 30).size() == 2);
  // A scale to the same count replaces the dead replica: the two alive stay as they are.
  const auto alive = members_by_container(f.proxy, f.service);
  const CommandResult same = f.proxy.cli({"scale", f.service, "3", "--health-interval", "100ms"});
  CHECK_MESSAGE(same.code == 0, same.out << same.err);
  const auto after = members_by_container(f.proxy, f.service);
  CHECK(after.size() == 3);
  CHECK(after.count(doomed) == 0);
  for (const auto& [name, health] : alive) {
    CHECK((name == doomed || after.count(name) == 1));
  }
  CHECK(replicas_all_answer(f.proxy.port(), 3));
  CHECK(service_containers(f.service).count(doomed) == 0);  // removed
  CHECK(f.proxy.cli({"scale", f.service, "3"}).code == 0);  // all alive: nothing to do
  CHECK(members_by_container(f.proxy, f.service) == after);
  // The next deploy replaces the whole set.
  const CommandResult v2 = f.deploy_version("v2");
  CHECK_MESSAGE(v2.code == 0, v2.out << v2.err);
  CHECK(replicas_all_answer(f.proxy.port(), 3));
}

TEST_CASE("scale up and down under load loses no request and keeps the version") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  LoadGenerator load(f.proxy.port());
  REQUIRE(eventually([&] { return load.ok() >= 20; }));  // the load runs
  const CommandResult up = f.proxy.cli({"scale", f.service, "3", "--health-interval", "100ms"});
  CHECK_MESSAGE(up.code == 0, up.out << up.err);
  CHECK(replicas_all_answer(f.proxy.port(), 3));
  const CommandResult down = f.proxy.cli({"scale", f.service, "1"});
  CHECK_MESSAGE(down.code == 0, down.out << down.err);
  std::this_thread::sleep_for(300ms);
  load.stop();
  MESSAGE("requests ok: " << load.ok() << ", failed: " << load.failed());
  CHECK(load.failed() == 0);
  CHECK(load.ok() > 100);
  CHECK(load.bodies() == std::map<std::string, int>{{"v1\n", load.ok()}});
  CHECK(replicas_answering(f.proxy.port(), 20).size() == 1);
  CHECK(service_containers(f.service).size() == 1);  // dropped replicas are removed
  // Scale survives a restart: a redeploy keeps the count, and a plain service is refused.
  REQUIRE(f.proxy.cli({"scale", f.service, "2", "--health-interval", "100ms"}).code == 0);
  f.proxy.process().signal(SIGKILL);
  f.proxy.process().wait_exit();
  RunningProxy again(f.dir.path());
  CHECK(replicas_answering(again.port(), 40).size() == 2);
  const CommandResult v2 = deploy(again, f.service, {"--env", "APP_VERSION=v2"});
  CHECK_MESSAGE(v2.code == 0, v2.out << v2.err);
  CHECK(replicas_answering(again.port(), 40).size() == 2);
  REQUIRE(
      again.cli({"service", "add", "plain", "--host", "plain.test", "--upstream", "127.0.0.1:9"})
          .code == 0);
  const CommandResult plain = again.cli({"scale", "plain", "2"});
  CHECK(plain.code != 0);
  CHECK(plain.err.find("does not run in containers") != std::string::npos);
  again.process().signal(SIGTERM);
  again.process().wait_exit();
}

TEST_CASE(
    "kill -9 at each step of a scale, then a restart: the next scale works, nothing is left") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"3", "create"}, {"3", "start"}, {"3", "health_check"}, {"3", "swap"}, {"1", "drain"}};
  for (const auto& [replicas, step] : cases) {
    CAPTURE(step);
    CAPTURE(replicas);
    DeployFixture f;
    // Replicas start slowly (so the health gate lasts); two serve before a scale down.
    REQUIRE(f.deploy_version(
                 "v1", {"--env", "START_DELAY_MS=800", "--replicas", replicas == "1" ? "2" : "1"})
                .code == 0);
    auto slow =
        std::async(std::launch::async, [&] { return get(f.proxy.port(), "/slow?ms=3000"); });
    REQUIRE(eventually([&] { return f.proxy.in_flight(f.service) == 1; }));
    const int stream = deploy_until_step(
        f.proxy, f.service + R"( {"replicas":)" + replicas + R"(,"health_interval":"100ms"})", step,
        "scale");
    f.proxy.process().signal(SIGKILL);
    f.proxy.process().wait_exit();
    ::close(stream);
    slow.wait();

    RunningProxy again(f.dir.path());
    CHECK(get(again.port()) == "v1\n");
    const CommandResult next = again.cli({"scale", f.service, "2", "--health-interval", "100ms"});
    CHECK_MESSAGE(next.code == 0, next.out << next.err);
    CHECK(replicas_answering(again.port(), 40).size() == 2);
    // Two replicas run; whatever the killed scale had started is gone.
    const auto containers = service_containers(f.service);
    CHECK(containers.size() == 2);
    for (const auto& [name, state] : containers) {
      CHECK(state == "running");
    }
    again.process().signal(SIGTERM);
    again.process().wait_exit();
  }
}

TEST_CASE(
    "deploy --canary runs a container beside the serving ones, rollback removes it, "
    "promote retires the old ones") {
  DeployFixture f;
  REQUIRE(f.deploy_version("v1").code == 0);
  const std::map<std::string, std::string> serving = service_containers(f.service);
  REQUIRE(serving.size() == 1);
  const CommandResult canary = f.deploy_version("v2", {"--canary", "50%"});
  REQUIRE_MESSAGE(canary.code == 0, canary.out << canary.err);
  CHECK(canary.out.find("takes 50% of clients") != std::string::npos);
  std::map<std::string, int> seen;
  for (int i = 0; i < 200; ++i) {
    seen[get(f.proxy.port())] += 1;
  }
  CHECK(seen["v1\n"] > 40);
  CHECK(seen["v2\n"] > 40);
  CHECK(service_containers(f.service).size() == 2);
  // A plain deploy under a canary is refused before anything is created.
  const CommandResult refused = f.deploy_version("v3");
  CHECK(refused.code != 0);
  CHECK(refused.err.find("a canary runs on") != std::string::npos);
  CHECK(service_containers(f.service).size() == 2);
  // rollback ends the canary: its container goes, the serving one stays.
  const CommandResult back = f.proxy.cli({"rollback", f.service});
  CHECK_MESSAGE(back.code == 0, back.out << back.err);
  CHECK(service_containers(f.service).size() == 1);
  CHECK(service_containers(f.service).count(serving.begin()->first) == 1);
  for (int i = 0; i < 20; ++i) {
    CHECK(get(f.proxy.port()) == "v1\n");
  }
  // A canary that survives a restart, promoted under load: nothing fails, v3 serves alone.
  REQUIRE(f.deploy_version("v3", {"--canary", "10%"}).code == 0);
  f.proxy.process().signal(SIGKILL);
  f.proxy.process().wait_exit();
  RunningProxy again(f.dir.path());
  LoadGenerator load(again.port());
  REQUIRE(eventually([&] { return load.ok() >= 20; }));  // the load runs
  const CommandResult promoted = again.cli({"promote", f.service, "--stop-timeout", "2s"});
  CHECK_MESSAGE(promoted.code == 0, promoted.out << promoted.err);
  std::this_thread::sleep_for(300ms);
  load.stop();
  CHECK(load.failed() == 0);
  for (int i = 0; i < 20; ++i) {
    CHECK(get(again.port()) == "v3\n");
  }
  // The v1 container is stopped and kept for rollback, which brings it back.
  const CommandResult rolled = again.cli({"rollback", f.service});
  CHECK_MESSAGE(rolled.code == 0, rolled.out << rolled.err);
  CHECK(get(again.port()) == "v1\n");
  again.process().signal(SIGTERM);
  again.process().wait_exit();
}

namespace {

// A slow GET (3 s) to one side of a canary split: bucket 0 is the canary's, 9999 the serving
// set's (while the canary takes less than all of the clients).
// The service's requests in flight, on its serving set and its canary's members.
std::int64_t requests_in_flight(const RunningProxy& proxy, const std::string& service) {
  const json::value status = json::parse(proxy.cli({"status", "--json"}).out);
  for (const json::value& s : status.at("services").as_array()) {
    if (s.at("name").as_string() != service) {
      continue;
    }
    std::int64_t n = s.at("in_flight").to_number<std::int64_t>();
    if (const json::value& canary = s.at("canary"); canary.is_object()) {
      for (const json::value& m : canary.at("members").as_array()) {
        n += m.at("in_flight").to_number<std::int64_t>();
      }
    }
    return n;
  }
  return -1;
}

std::future<std::string> slow_request_to(std::uint16_t port, int bucket) {
  return std::async(std::launch::async, [port, bucket] {
    return request_once(port, "GET /slow?ms=3000 HTTP/1.1\r\nHost: app\r\nCookie: handoff_canary=" +
                                  std::to_string(bucket) + "\r\n\r\n")
        .body;
  });
}

// Restarts after a kill -9 and checks that the service serves a live version and ends in a
// clean state: no canary, one version serving, at most one set kept.
void check_after_canary_kill(DeployFixture& f, const std::string& action, const std::string& step) {
  RunningProxy again(f.dir.path());
  const std::string served = get(again.port());
  CHECK((served == "v1\n" || served == "v2\n"));  // a live container, never a dead one
  const json::value status = json::parse(again.cli({"status", "--json"}).out);
  bool canary_runs = false;
  for (const json::value& s : status.at("services").as_array()) {
    canary_runs |= s.at("name").as_string() == f.service && s.at("canary").is_object();
  }
  // Where the kill came after the change was saved, the change holds; else it did not happen.
  const bool changed = step != "create" && step != "start" && step != "health_check";
  CHECK(canary_runs == (action == "deploy" ? changed : !changed));
  if (canary_runs) {
    CHECK(again.cli({"rollback", f.service}).code == 0);
  }
  const CommandResult v3 =
      deploy(again, f.service, {"--env", "APP_VERSION=v3", "--canary", "100%"});
  CHECK_MESSAGE(v3.code == 0, v3.out << v3.err);
  CHECK(again.cli({"promote", f.service}).code == 0);
  CHECK(get(again.port()) == "v3\n");
  // v3 serving and the set before it kept for rollback: nothing else is left.
  const auto containers = service_containers(f.service);
  CHECK(containers.size() == 2);
  std::size_t running = 0;
  for (const auto& [name, state] : containers) {
    running += state == "running" ? 1 : 0;
  }
  CHECK(running == 1);
  again.process().signal(SIGTERM);
  again.process().wait_exit();
}

}  // namespace

TEST_CASE("kill -9 at each step of a canary deploy, promote and rollback, then a restart") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"deploy", "create"},  {"deploy", "start"},  {"deploy", "health_check"},
      {"deploy", "swap"},    {"promote", "swap"},  {"promote", "drain"},
      {"promote", "retire"}, {"rollback", "swap"}, {"rollback", "drain"},
      {"rollback", "retire"}};
  for (const auto& [action, step] : cases) {
    CAPTURE(action);
    CAPTURE(step);
    DeployFixture f;
    REQUIRE(f.deploy_version("v1").code == 0);
    std::string body = f.service + R"( {"image":")" + test_app_image() +
                       R"(","host_network":true,"health_interval":"100ms","canary":"50%",)"
                       R"("stop_timeout":"2s","env":["APP_VERSION=v2","START_DELAY_MS=800"]})";
    std::future<std::string> slow;
    if (action != "deploy") {
      REQUIRE(f.deploy_version("v2", {"--canary", "50%"}).code == 0);
      // A slow request on the side that drains keeps the drain going.
      slow = slow_request_to(f.proxy.port(), action == "promote" ? 9999 : 0);
      REQUIRE(eventually([&] { return requests_in_flight(f.proxy, f.service) == 1; }, 10s, 20ms));
      body = f.service + R"( {"stop_timeout":"2s"})";
      if (action == "rollback") {
        body = f.service + " {}";
      }
    }
    const int stream = deploy_until_step(f.proxy, body, step, action);
    f.proxy.process().signal(SIGKILL);
    f.proxy.process().wait_exit();
    ::close(stream);
    if (slow.valid()) {
      slow.wait();
    }
    check_after_canary_kill(f, action, step);
  }
}
