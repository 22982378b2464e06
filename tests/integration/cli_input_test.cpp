// Every CLI command against bad input: each exits 2 with a message and changes nothing (the
// status and the containers are the same before and after). And the control API never lets a
// service name stand for another path.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_certificates.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;

namespace {

// What a bad command must not change: the status without its clock, and the containers of the
// service the commands name (other tests' containers come and go meanwhile).
std::string observable_state(const RunningProxy& proxy) {
  std::string status = unix_request(proxy.control(), "GET", "/v1/status").body;
  const std::size_t uptime = status.find("\"uptime_seconds\"");
  if (uptime != std::string::npos) {
    status.erase(uptime, status.find_first_of(",}", uptime) - uptime);
  }
  return status + shell("docker ps -aq --filter label=handoff.service=web 2>&1").second;
}

const std::vector<std::vector<std::string>>& bad_commands() {
  static const std::vector<std::vector<std::string>> cases = {
      {"status", "extra"},
      {"swap", "web"},
      {"swap", "web", "--to", "notanaddress"},
      {"swap", "web", "--to", "127.0.0.1:99999"},
      {"swap", "nonexistent/../web", "--to", "127.0.0.1:1"},
      {"swap", "web", "--to", "127.0.0.1:1", "--healthy-threshold", "0"},
      {"swap", "web", "--to", "127.0.0.1:1", "--canary", "101%"},
      {"swap", "web", "extra", "--to", "127.0.0.1:1"},
      {"rollback"},
      {"rollback", "nonexistent/../web"},
      {"rollback", "web", "--drain-timeout", "forever"},
      {"deploy", "web", "--image", "app:v1", "--network", "n", "--host-network"},
      {"deploy", "web", "--image", "app:v1", "--task-port", "19{{.Task.Slot}}"},
      {"deploy", "web", "--image", "app:v1", "--task-port", "9{{.Handoff.Side}}{{.Task.Slot}}99"},
      {"deploy", "web", "--image", "app:v1", "--task-port", "7{{.Handoff.Side}}{{.Task.Slot}}",
       "--replicas", "100"},
      {"deploy", "web", "--image", "app:v1", "--host-network", "--replicas", "0"},
      {"deploy", "web", "--image", "app:v1", "--host-network", "--replicas", "101"},
      {"deploy", "web", "--image", "app:v1", "--host-network", "--port", "70000"},
      {"deploy", "web", "--image", "app:v1", "--host-network", "--keep", "-1"},
      {"deploy", "web", "--image", "app:v1", "--host-network", "--env", "=x"},
      {"deploy", "we b", "--image", "app:v1", "--host-network"},
      {"deploy", "web", "--host-network"},
      {"scale", "web", "1000000"},
      {"scale", "web", "0"},
      {"scale", "web", "two"},
      {"scale", "web"},
      {"scale", "web?x", "2"},
      {"canary", "web"},
      {"canary", "web", "--percent", "101%"},
      {"canary", "../web", "--percent", "5%"},
      {"promote"},
      {"promote", "web", "extra"},
      {"promote", "web", "--keep", "-1"},
      {"pause"},
      {"pause", "../services/web"},
      {"pause", "web", "--max-pause", "5parsecs"},
      {"pause", "web", "--retry-after"},
      {"resume", "nonexistent/../web"},
      {"service"},
      {"service", "bogus", "web"},
      {"service", "add", "Web"},
      {"service", "add", "a2", "--hsts", "-5"},
      {"service", "add", "a2", "--max-conns-per-member", "-1"},
      {"service", "update", "web", "--max-conns-per-member", "2000000"},
      {"service", "update", "web", "--max-conns-per-member", "many"},
      {"service", "update", "web"},
      {"service", "remove", "nonexistent/../web"},
      {"logs"},
      {"logs", "../web"},
      {"logs", "web", "--tail", "-1"},
      {"upgrade"},
      {"upgrade", "--exec", "/bin/true", "--image", "handoff:2"},
      {"upgrade", "--exec", "/bin/true", "--timeout", "soon"},
      {"frobnicate"},
      {"--bogus", "status"},
  };
  return cases;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

}  // namespace

TEST_CASE("every CLI command refuses bad input with exit 2 and a message, changing nothing") {
  TestBackend backend(TestBackend::respond("web"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  REQUIRE(
      proxy.cli({"service", "add", "web", "--host", "web.test", "--upstream", backend.address()})
          .code == 0);
  const std::string before = observable_state(proxy);
  for (const auto& words : bad_commands()) {
    CAPTURE(joined(words));
    std::vector<std::string> args = words;
    args.insert(args.end(), {"--control", proxy.control()});
    const CommandResult r = run_command(args);
    CHECK(r.code == 2);
    CHECK_FALSE(r.err.empty());
    CHECK(r.err.find("field '") == std::string::npos);  // the CLI's words, not the API's
    CHECK(observable_state(proxy) == before);
  }
}

TEST_CASE("control flags may come before the command, and help takes a command") {
  TestBackend backend(TestBackend::respond("web"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  const CommandResult status = run_command({"--control", proxy.control(), "status"});
  CHECK(status.code == 0);
  CHECK(status.out.find("default") != std::string::npos);
  const CommandResult help = run_command({"help", "deploy"});
  CHECK(help.code == 0);
  CHECK(help.out.rfind("usage: handoff deploy", 0) == 0);
  const CommandResult pause = run_command({"pause", "--help"});
  CHECK(pause.out.find("--message TEXT") != std::string::npos);
  CHECK(pause.out.find("--retry-after DUR") != std::string::npos);
}

TEST_CASE("the control API decodes a service's path segment and refuses what is not a name") {
  TestBackend backend(TestBackend::respond("web"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  REQUIRE(proxy.cli({"service", "add", "web", "--host", "web.test"}).code == 0);
  for (const char* path : {"/v1/services/nonexistent/../web/pause", "/v1/services/..%2Fweb/pause",
                           "/v1/services/%2E%2E/pause", "/v1/services/we%20b/pause",
                           "/v1/services/web%zz/pause", "/v1/services/Web/pause"}) {
    CAPTURE(path);
    const UnixResponse r = unix_request(proxy.control(), "POST", path, "{}");
    CHECK(((r.status == 400) || (r.status == 404)));
  }
  CHECK(unix_request(proxy.control(), "GET", "/v1/status").body.find("\"paused\":true") ==
        std::string::npos);
  // An encoded name that is a name is the same service.
  CHECK(unix_request(proxy.control(), "POST", "/v1/services/w%65b/pause", "{}").status == 200);
  CHECK(unix_request(proxy.control(), "GET", "/v1/status").body.find("\"paused\":true") !=
        std::string::npos);
}

TEST_CASE("every flag of run is in the reference's table of run flags") {
  const CommandResult help = run_command({"run", "--help"});
  REQUIRE(help.code == 0);
  // The reference's table rows: lines that start with "| ".
  std::ifstream file(HANDOFF_SOURCE_DIR "/docs/reference.md");
  std::string rows;
  for (std::string row; std::getline(file, row);) {
    if (row.rfind("| ", 0) == 0) {
      rows += row + "\n";
    }
  }
  std::istringstream lines(help.out);
  int flags = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  --", 0) != 0 || line.rfind("  --help", 0) == 0) {
      continue;
    }
    const std::string flag = line.substr(2, line.find(' ', 2) - 2);
    CAPTURE(flag);
    ++flags;
    CHECK(rows.find("`" + flag) != std::string::npos);
  }
  CHECK(flags > 30);
}

TEST_CASE("a certificate no listener presents, or that misses a host, is taken with warnings") {
  TestBackend backend(TestBackend::respond("web"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  const TestCertificate cert = make_certificate({{"web.test"}});
  std::ofstream(dir.path() / "cert.pem") << cert.chain_pem;
  std::ofstream(dir.path() / "key.pem") << cert.key_pem;
  const CommandResult r = proxy.cli({"service", "add", "web", "--host", "web.test", "--host",
                                     "other.test", "--tls-cert", (dir.path() / "cert.pem").string(),
                                     "--tls-key", (dir.path() / "key.pem").string()});
  CHECK(r.code == 0);
  CHECK(r.err.find("warning: no HTTPS listener") != std::string::npos);
  CHECK(r.err.find("warning: the certificate does not cover other.test") != std::string::npos);
  CHECK(r.err.find("does not cover web.test") == std::string::npos);
  std::ofstream(dir.path() / "bad.pem") << "not a certificate\n";
  const CommandResult bad =
      proxy.cli({"service", "update", "web", "--tls-cert", (dir.path() / "bad.pem").string(),
                 "--tls-key", (dir.path() / "key.pem").string()});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("no PEM block") != std::string::npos);
  CHECK(bad.err.find("no start line") == std::string::npos);
}

TEST_CASE("rollback of a canary says which flags it takes") {
  TestBackend blue(TestBackend::respond("blue"));
  TestBackend green(TestBackend::respond("green"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  REQUIRE(
      proxy
          .cli({"swap", "default", "--to", green.address(), "--canary", "10%", "--no-health-check"})
          .code == 0);
  const CommandResult gated = proxy.cli({"rollback", "default", "--health-interval", "100ms"});
  CHECK(gated.code == 1);
  CHECK(gated.err.find("a canary runs on 'default': rollback ends it, and takes only "
                       "--drain-timeout") != std::string::npos);
  CHECK(proxy.cli({"rollback", "default"}).code == 0);
}
