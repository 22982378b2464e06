#include "control/registry/state_store.hpp"

#include <doctest/doctest.h>
#include <sys/mount.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.hpp"

using namespace handoff::control;
using handoff::test::TempDir;

namespace {

ProxyState sample_state() {
  ServiceState s;
  s.name = "web";
  s.hosts = {"example.com", "*.example.com"};
  s.upstreams = {"127.0.0.1:9001"};
  s.previous = {"127.0.0.1:9000", "127.0.0.1:9002"};
  s.generation = 7;
  s.containers = {{"abc", "web-7", "app:v7"}, {"abd", "web-8", "app:v7"}};
  s.history = {{{"def", "web-6", "app:v6"}},
               {{"de1", "web-4", "app:v5"}, {"de2", "web-5", "app:v5"}}};
  s.next_container = 8;
  s.paused = true;
  s.max_pause_ms = 1500;
  s.pause_message = "back soon \"really\"\n";
  s.retry_after_s = 9;
  s.strip_prefix = true;
  s.tls_source = "given";
  s.tls_cert = "-----BEGIN CERTIFICATE-----\n...";
  s.tls_key = "-----BEGIN PRIVATE KEY-----\n...";
  s.tls_issued_by_acme = true;
  s.redirect_https = true;
  s.hsts_seconds = 31536000;
  s.deploy = {"app:v7", "web", {"A=1", "B=two words"}, 8080, "host", 3};
  s.canary = SavedCanary{{"127.0.0.1:9003", "127.0.0.1:9004"},
                         {{"ca1", "web-9", "app:v8"}, {"ca2", "web-10", "app:v8"}},
                         1250,
                         {0.02, 30, 50, 600},
                         1'795'000'000'123,
                         {"app:v8", "web", {"A=2"}, 8080, "host", 3}};
  ServiceState empty;
  empty.name = "new";  // no upstream yet, as `service add` leaves it
  return ProxyState{{s, empty}};
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("the state saved is the state loaded, field for field") {
  TempDir dir;
  StateStore store(dir.path());
  CHECK_FALSE(store.exists());
  CHECK(store.load().services.empty());
  store.save(sample_state());
  CHECK(store.exists());
  const ProxyState loaded = StateStore(dir.path()).load();
  REQUIRE(loaded.services.size() == 2);
  const ServiceState& s = loaded.services[0];
  CHECK(s.hosts == std::vector<std::string>{"example.com", "*.example.com"});
  CHECK(s.upstreams == std::vector<std::string>{"127.0.0.1:9001"});
  CHECK(s.previous == std::vector<std::string>{"127.0.0.1:9000", "127.0.0.1:9002"});
  CHECK(s.generation == 7);
  REQUIRE(s.containers.size() == 2);
  CHECK(s.containers[1].name == "web-8");
  REQUIRE(s.history.size() == 2);
  CHECK(s.history[0].at(0).name == "web-6");
  CHECK(s.history[1].at(1).name == "web-5");
  CHECK(s.next_container == 8);
  CHECK(s.paused);
  CHECK(s.max_pause_ms == 1500);
  CHECK(s.pause_message == "back soon \"really\"\n");
  CHECK(s.retry_after_s == 9);
  CHECK(s.strip_prefix);
  CHECK(s.tls_source == "given");
  CHECK(s.tls_cert == "-----BEGIN CERTIFICATE-----\n...");
  CHECK(s.tls_key == "-----BEGIN PRIVATE KEY-----\n...");
  CHECK(s.tls_issued_by_acme);
  CHECK(s.redirect_https);
  CHECK(s.hsts_seconds == 31536000);
  CHECK(s.deploy.image == "app:v7");
  CHECK(s.deploy.env == std::vector<std::string>{"A=1", "B=two words"});
  CHECK(s.deploy.network == "host");
  CHECK(s.deploy.stop_timeout_s == 3);
  REQUIRE(s.canary);
  CHECK(s.canary->upstreams == std::vector<std::string>{"127.0.0.1:9003", "127.0.0.1:9004"});
  CHECK(s.canary->containers.at(1).name == "web-10");
  CHECK(s.canary->share == 1250);
  CHECK(s.canary->policy.max_error_rate == 0.02);
  CHECK(s.canary->policy.window_s == 30);
  CHECK(s.canary->policy.min_requests == 50);
  CHECK(s.canary->policy.bake_s == 600);
  CHECK(s.canary->started_unix_ms == 1'795'000'000'123);
  CHECK(s.canary->deploy.image == "app:v8");
  CHECK(s.canary->deploy.env == std::vector<std::string>{"A=2"});
  CHECK(loaded.services[1].upstreams.empty());
  CHECK_FALSE(loaded.services[1].canary);
  CHECK(loaded.services[1].tls_source == "off");
  // It holds private keys: owner only.
  const auto mode = std::filesystem::status(dir.path() / "state.json").permissions() &
                    std::filesystem::perms::all;
  CHECK(mode == (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  // No temporary file is left beside it.
  CHECK_FALSE(std::filesystem::exists(dir.path() / ".state.json.tmp"));
}

TEST_CASE("a corrupt state file is refused with its path and the problem") {
  TempDir dir;
  std::ofstream(dir.path() / "state.json") << R"({"services": [{"name": 5}]})";
  StateStore store(dir.path());
  try {
    (void)store.load();
    FAIL("a corrupt state loaded");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find((dir.path() / "state.json").string()) != std::string::npos);
    CHECK(std::string(e.what()).find("corrupt") != std::string::npos);
  }
}

TEST_CASE("a state file bind-mounted on its own is overwritten in place (EBUSY on rename)") {
  // As `docker run -v ./state.json:/var/lib/handoff/state.json` leaves it: renaming onto a
  // mount point fails with EBUSY, so the store writes through the mounted file instead.
  TempDir dir;
  TempDir outside;
  const auto host_file = outside.path() / "state.json";
  std::ofstream(host_file) << R"({"services": []})";
  std::ofstream(dir.path() / "state.json") << "";
  REQUIRE_MESSAGE(::mount(host_file.c_str(), (dir.path() / "state.json").c_str(), nullptr, MS_BIND,
                          nullptr) == 0,
                  "mount --bind needs root (the test command runs as root)");
  struct Unmount {
    std::filesystem::path at;
    ~Unmount() { ::umount(at.c_str()); }
  } unmount{dir.path() / "state.json"};
  StateStore store(dir.path());
  store.save(sample_state());
  CHECK(store.load().services.size() == 2);
  // The host's file has the new state: it went through the mount, not beside it.
  CHECK(read_all(host_file).find("web-7") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.path() / ".state.json.tmp"));
}

TEST_CASE("a state file written before upstream sets and replicas loads as sets of one") {
  const ProxyState loaded = state_from_json(R"({"version":1,"services":[{"name":"web",
    "hosts":["web.test"],"upstream":"127.0.0.1:9002","previous":"127.0.0.1:9001",
    "generation":3,"container_id":"abc","container_name":"web-3","image":"app:v3",
    "history":[{"id":"def","name":"web-2","image":"app:v2"}],"next_container":4}]})");
  REQUIRE(loaded.services.size() == 1);
  const ServiceState& s = loaded.services[0];
  CHECK(s.upstreams == std::vector<std::string>{"127.0.0.1:9002"});
  CHECK(s.previous == std::vector<std::string>{"127.0.0.1:9001"});
  REQUIRE(s.containers.size() == 1);
  CHECK(s.containers[0].id == "abc");
  CHECK(s.containers[0].name == "web-3");
  CHECK(s.containers[0].image == "app:v3");
  REQUIRE(s.history.size() == 1);
  REQUIRE(s.history[0].size() == 1);
  CHECK(s.history[0][0].name == "web-2");
  CHECK_FALSE(s.health_watch);  // nothing was checked while serving then
  // Saved again, a set of one is still written as one string.
  CHECK(state_to_json(loaded).find(R"("upstream":"127.0.0.1:9002")") != std::string::npos);
}
