// What a workflow says it did is what `status --json` shows after it: every summary line of a
// deploy, scale, canary, promote and canary rollback is checked field by field. And status tells
// the truth about a service whose container died.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

json::object service_status(const RunningProxy& proxy, const std::string& name) {
  const json::value status = json::parse(proxy.cli({"status", "--json"}).out);
  for (const json::value& s : status.at("services").as_array()) {
    if (s.at("name").as_string() == name) {
      return s.as_object();
    }
  }
  FAIL("no service " << name);
  return {};
}

std::string names_of(const json::array& members, const char* key) {
  std::string out;
  for (const json::value& m : members) {
    out += (out.empty() ? "" : ", ") + std::string(m.at(key).as_string());
  }
  return out;
}

// Checks the summary lines of a workflow's output against the service's status after it:
// "SERVICE is served by NAMES at UPSTREAM (generation N)" and, while a canary runs, "canary
// NAMES at UPSTREAM takes P% of clients".
void check_summary(const RunningProxy& proxy, const std::string& service, const std::string& out) {
  CAPTURE(out);
  const json::object s = service_status(proxy, service);
  std::smatch m;
  REQUIRE(std::regex_search(
      out, m, std::regex(service + R"( is served by (.+) at (\S+) \(generation (\d+)\))")));
  CHECK(m[1].str() == names_of(s.at("members").as_array(), "container"));
  CHECK(m[2].str() == std::string(s.at("upstream").as_string()));
  CHECK(std::stoll(m[3].str()) == s.at("generation").as_int64());
  const json::value& canary = s.at("canary");
  std::smatch c;
  const bool said =
      std::regex_search(out, c, std::regex(R"(canary (.+) at (\S+) takes ([\d.]+)% of clients)"));
  CHECK(said == !canary.is_null());
  if (said && !canary.is_null()) {
    CHECK(c[1].str() == names_of(canary.at("members").as_array(), "container"));
    CHECK(c[2].str() == std::string(canary.at("upstream").as_string()));
    CHECK(std::stod(c[3].str()) == canary.at("percent").to_number<double>());
  }
  CHECK(out.find("during the attempt") == std::string::npos);            // a switch was made
  CHECK_FALSE(std::regex_search(out, std::regex(R"((^|\n) serves )")));  // no empty name
}

std::string get(std::uint16_t port, const std::string& host) {
  return request_once(port, "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").body;
}

}  // namespace

TEST_CASE("every workflow summary says what status shows after it") {
  const std::string image = test_app_image();
  TempDir dir;
  RunningProxy proxy(dir.path());
  const std::string service = unique_service("summary");
  const ServiceCleanup cleanup(service);
  const std::string host = service + ".test";
  REQUIRE(proxy.cli({"service", "add", service, "--host", host}).code == 0);
  const std::vector<std::string> gate = {"--health-interval", "100ms"};
  auto run = [&](std::vector<std::string> args) {
    if (args[0] == "deploy" || args[0] == "scale") {
      args.insert(args.end(), gate.begin(), gate.end());
    }
    const CommandResult r = proxy.cli(args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return r.out;
  };
  check_summary(proxy, service, run({"deploy", service, "--image", image, "--host-network"}));
  check_summary(proxy, service, run({"scale", service, "3"}));
  const std::string down = run({"scale", service, "1"});
  check_summary(proxy, service, down);
  CHECK(std::regex_search(down, std::regex(R"(retire +stopped nothing; removed \S+, \S+)")));
  for (int i = 0; i < 5; ++i) {
    CHECK(get(proxy.port(), host) == "dev\n");
  }
  check_summary(proxy, service,
                run({"deploy", service, "--image", image, "--host-network", "--canary", "20%"}));
  const json::object first_canary = service_status(proxy, service).at("canary").as_object();
  CHECK(first_canary.at("requests").as_int64() == 0);
  check_summary(proxy, service, run({"promote", service}));
  // A second canary starts from zero, whatever the first one served.
  const std::string second =
      run({"deploy", service, "--image", image, "--host-network", "--canary", "50%"});
  check_summary(proxy, service, second);
  CHECK(service_status(proxy, service).at("canary").at("requests").as_int64() == 0);
  const CommandResult back = proxy.cli({"rollback", service});
  REQUIRE(back.code == 0);
  check_summary(proxy, service, back.out);
}

TEST_CASE("status says a service is down when its only container died") {
  const std::string image = test_app_image();
  TempDir dir;
  RunningProxy proxy(dir.path());
  const std::string service = unique_service("dead");
  const ServiceCleanup cleanup(service);
  REQUIRE(proxy.cli({"service", "add", service, "--host", service + ".test"}).code == 0);
  REQUIRE(proxy
              .cli({"deploy", service, "--image", image, "--host-network", "--health-interval",
                    "100ms"})
              .code == 0);
  CHECK(std::string(service_status(proxy, service).at("state").as_string()) == "serving");
  const auto containers = service_containers(service);
  REQUIRE(containers.size() == 1);
  REQUIRE(shell("docker kill " + containers.begin()->first + " >/dev/null 2>&1").first == 0);
  // Ejected by the engine's event or by its failed health checks, whichever comes first; the
  // engine's word that the container died is the surest reason and replaces the other, so it
  // is what status settles on.
  const std::string state = "down: its member is ejected: container died";
  CHECK(eventually([&] { return service_status(proxy, service).at("state").as_string() == state; },
                   10s, 50ms));
  const CommandResult status = proxy.cli({"status"});
  CHECK(status.out.find(state) != std::string::npos);
}
