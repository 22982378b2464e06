// A change is acknowledged only once it is durable: with the state directory full (a small
// tmpfs) or turned read-only, every command that changes the state fails with the OS's reason,
// the running proxy keeps the state it had, and a restart finds what the proxy served.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// A 256 KiB tmpfs mounted at `dir`/state, for the state directory; unmounted at the end.
class SmallStateDir {
 public:
  explicit SmallStateDir(const fs::path& dir) : path_(dir / "state") {
    fs::create_directories(path_);
    REQUIRE(::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=256k") == 0);
  }
  ~SmallStateDir() { ::umount2(path_.c_str(), MNT_DETACH); }
  SmallStateDir(const SmallStateDir&) = delete;
  SmallStateDir& operator=(const SmallStateDir&) = delete;

  /// Fills the file system to the last byte.
  void fill() {
    std::ofstream filler(path_ / "filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
    filler.close();
    std::ofstream last(path_ / "filler-1", std::ios::binary);  // the bytes of a partial block
    while (last.put('x')) {
    }
  }
  /// Frees it again.
  void empty() {
    fs::remove(path_ / "filler");
    fs::remove(path_ / "filler-1");
  }
  /// Turns it read-only, or writable again.
  void read_only(bool on) {
    REQUIRE(::mount(nullptr, path_.c_str(), nullptr, MS_REMOUNT | (on ? MS_RDONLY : 0),
                    "size=256k") == 0);
  }

 private:
  fs::path path_;
};

// What a refused change must leave as it was: each service's routing and settings (not the
// counters, which the test's own requests move).
std::string status_of(const RunningProxy& proxy) {
  const boost::json::value status =
      boost::json::parse(unix_request(proxy.control(), "GET", "/v1/status").body);
  boost::json::array kept;
  for (const auto& v : status.at("services").as_array()) {
    const auto& s = v.as_object();
    boost::json::object k;
    for (const char* key : {"name", "hosts", "strip_prefix", "upstream", "previous", "generation",
                            "paused", "canary", "tls", "container"}) {
      k[key] = s.at(key);
    }
    kept.push_back(std::move(k));
  }
  return boost::json::serialize(kept);
}

std::string get(std::uint16_t port, const std::string& host) {
  return request_once(port, "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").body;
}

// Every command that changes the state, each refused with `reason` and changing nothing.
void check_every_change_refused(RunningProxy& proxy, const std::string& other,
                                const std::string& reason) {
  const std::vector<std::vector<std::string>> changes = {
      {"service", "add", "a2", "--host", "a2.test", "--upstream", other},
      {"service", "update", "web", "--host", "moved.test"},
      {"service", "remove", "web"},
      {"pause", "web"},
      {"swap", "web", "--to", other, "--no-health-check"},
  };
  for (const auto& change : changes) {
    CAPTURE(change[0] + " " + change[1]);
    const std::string before = status_of(proxy);
    const CommandResult r = proxy.cli(change);
    CHECK(r.code == 1);
    CHECK(r.err.find(reason) != std::string::npos);
    CHECK(r.err.find("the change was not made") != std::string::npos);
    CHECK(status_of(proxy) == before);
    CHECK(get(proxy.port(), "web.test") == "blue");
  }
  CHECK(unix_request(proxy.control(), "POST", "/v1/services", R"({"name":"a3"})").status == 507);
}

}  // namespace

TEST_CASE("a full or read-only state directory refuses every change, and nothing is lost") {
  TestBackend blue(TestBackend::respond("blue"));
  TestBackend green(TestBackend::respond("green"));
  TempDir dir;
  SmallStateDir state(dir.path());
  {
    RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
    REQUIRE(proxy.cli({"service", "add", "web", "--host", "web.test", "--upstream", blue.address()})
                .code == 0);
    state.fill();
    check_every_change_refused(proxy, green.address(), "No space left on device");
    state.empty();
    state.read_only(true);
    check_every_change_refused(proxy, green.address(), "Read-only file system");
    state.read_only(false);
    // Writable again: the same changes are made and acknowledged.
    CHECK(proxy.cli({"service", "add", "a2", "--host", "a2.test", "--upstream", green.address()})
              .code == 0);
    CHECK(proxy.cli({"pause", "web"}).code == 0);
    CHECK(proxy.cli({"resume", "web"}).code == 0);
    state.fill();
    CHECK(proxy.cli({"service", "remove", "a2"}).code == 1);
    proxy.process().signal(SIGKILL);
    proxy.process().wait_exit();
  }
  state.empty();
  RunningProxy again(dir.path(), {"--upstream", blue.address()});
  CHECK(get(again.port(), "web.test") == "blue");
  CHECK(get(again.port(), "a2.test") == "green");  // acknowledged, so restored
}

TEST_CASE("a deploy with a full state directory makes no container and leaves the service") {
  const std::string image = test_app_image();
  TestBackend blue(TestBackend::respond("blue"));
  TempDir dir;
  SmallStateDir state(dir.path());
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  const std::string service = unique_service("full");
  REQUIRE(
      proxy.cli({"service", "add", service, "--host", "full.test", "--upstream", blue.address()})
          .code == 0);
  state.fill();
  const CommandResult r = proxy.cli({"deploy", service, "--image", image, "--host-network"});
  CHECK(r.code == 1);
  CHECK(r.err.find("No space left on device") != std::string::npos);
  CHECK(service_containers(service).empty());
  CHECK(get(proxy.port(), "full.test") == "blue");
  state.empty();
}

TEST_CASE(
    "a deploy whose switch cannot be saved leaves the old container serving, across a restart") {
  const std::string image = test_app_image();
  TempDir dir;
  SmallStateDir state(dir.path());
  const std::string service = unique_service("rofs");
  const ServiceCleanup cleanup(service);
  std::string old_container;
  {
    RunningProxy proxy(dir.path());
    REQUIRE(proxy.cli({"service", "add", service, "--host", "rofs.test"}).code == 0);
    REQUIRE(proxy
                .cli({"deploy", service, "--image", image, "--host-network", "--env",
                      "APP_VERSION=v1", "--health-interval", "100ms"})
                .code == 0);
    REQUIRE(service_containers(service).size() == 1);
    old_container = service_containers(service).begin()->first;
    // v2 starts slowly: the state directory turns read-only while its health gate runs.
    auto deploy = std::async(std::launch::async, [&] {
      return proxy.cli({"deploy", service, "--image", image, "--host-network", "--env",
                        "APP_VERSION=v2", "--env", "START_DELAY_MS=2000", "--health-interval",
                        "100ms"});
    });
    REQUIRE(eventually([&] { return service_containers(service).size() >= 2; }, 30s, 20ms));
    state.read_only(true);
    const CommandResult r = deploy.get();
    CHECK(r.code == 1);
    CHECK(r.err.find("Read-only file system") != std::string::npos);
    CHECK(get(proxy.port(), "rofs.test") == "v1\n");
    CHECK(service_containers(service) ==
          std::map<std::string, std::string>{{old_container, "running"}});
    proxy.process().signal(SIGKILL);
    proxy.process().wait_exit();
  }
  state.read_only(false);
  RunningProxy again(dir.path());
  CHECK(get(again.port(), "rofs.test") == "v1\n");  // the restart kept the container that served
  CHECK(service_containers(service).count(old_container) == 1);
}

TEST_CASE("a canary is neither started, promoted nor rolled back unless its state is saved") {
  TestBackend blue(TestBackend::respond("blue"));
  TestBackend green(TestBackend::respond("green"));
  TempDir dir;
  SmallStateDir state(dir.path());
  const std::string canary_status = [&] {
    RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
    state.fill();
    const CommandResult start = proxy.cli(
        {"swap", "default", "--to", green.address(), "--canary", "50%", "--no-health-check"});
    CHECK(start.code == 1);
    CHECK(start.err.find("No space left on device") != std::string::npos);
    CHECK(status_of(proxy).find("\"canary\":null") != std::string::npos);
    state.empty();
    REQUIRE(proxy
                .cli({"swap", "default", "--to", green.address(), "--canary", "50%",
                      "--no-health-check"})
                .code == 0);
    const std::string running = status_of(proxy);
    state.fill();
    for (const char* verb : {"promote", "rollback"}) {
      CAPTURE(verb);
      const CommandResult r = proxy.cli({verb, "default"});
      CHECK(r.code == 1);
      CHECK(r.err.find("No space left on device") != std::string::npos);
      CHECK(status_of(proxy) == running);
    }
    proxy.process().signal(SIGKILL);
    proxy.process().wait_exit();
    return running;
  }();
  state.empty();
  RunningProxy again(dir.path(), {"--upstream", blue.address()});
  CHECK(status_of(again) == canary_status);  // the canary runs on, beside blue
}
