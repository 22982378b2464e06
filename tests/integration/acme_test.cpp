// Automatic certificates against a real ACME server: Debian's pebble on 127.0.0.1, its mock
// DNS answering every name with 127.0.0.1, its nonce rejections and validation delays on.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/pebble_server.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_certificates.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// The `tls` object of a service in status.
json::object tls_status(const RunningProxy& proxy, const std::string& service) {
  const json::value status = json::parse(unix_request(proxy.control(), "GET", "/v1/status").body);
  for (const json::value& s : status.at("services").as_array()) {
    if (s.at("name").as_string() == service) {
      return s.at("tls").as_object();
    }
  }
  return {};
}

// Waits (up to `limit`) until the service's ACME state is `state`; returns the tls status.
json::object wait_for_acme(const RunningProxy& proxy, const std::string& service,
                           const std::string& state, std::chrono::seconds limit = 90s) {
  json::object tls;
  eventually(
      [&] {
        tls = tls_status(proxy, service);
        return tls.contains("acme") && tls.at("acme").at("state").as_string() == state;
      },
      limit, 50ms);
  return tls;
}

// The serial number of the certificate presented for `name` on the TLS port.
std::string presented_serial(std::uint16_t port, const std::string& name) {
  return shell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
               " -servername " + name + " 2>/dev/null | openssl x509 -noout -serial 2>/dev/null")
      .second;
}

}  // namespace

TEST_CASE("--tls acme: a certificate issued over HTTP-01, verified by curl, renewed, restored") {
  TestBackend backend(TestBackend::respond("secure"));
  TempDir dir;
  const std::uint16_t http_port = free_port();
  PebbleServer pebble(dir.path(), http_port);
  std::vector<std::string> flags = {"--listen",         "127.0.0.1:" + std::to_string(http_port),
                                    "--listen-tls",     "127.0.0.1:0",
                                    "--acme-directory", pebble.directory(),
                                    "--acme-email",     "ops@example.com",
                                    "--acme-ca",        pebble.ca_file()};
  std::string first_serial;
  {
    RunningProxy proxy(dir.path(), flags);
    REQUIRE(proxy
                .cli({"service", "add", "web", "--host", "web.test", "--host", "www.web.test",
                      "--upstream", backend.address(), "--tls", "acme"})
                .code == 0);
    const json::object tls = wait_for_acme(proxy, "web", "valid");
    REQUIRE_MESSAGE(tls.at("acme").at("state") == "valid", json::serialize(tls), pebble.log());
    CHECK(tls.at("names").as_array().size() == 2);
    const std::uint16_t port = proxy.tls_port();
    const auto [code, out] =
        shell("curl -sS --cacert " + pebble.issuing_root() +
              " --resolve www.web.test:" + std::to_string(port) +
              ":127.0.0.1 https://www.web.test:" + std::to_string(port) + "/ 2>&1");
    CHECK(code == 0);
    CHECK(out == "secure");
    first_serial = presented_serial(port, "web.test");
    CHECK_FALSE(first_serial.empty());
    CHECK(proxy.process().stderr_text().find("acme: service web: certificate for web.test, "
                                             "www.web.test installed") != std::string::npos);
  }
  // The account key is kept for the next start, readable by its owner only.
  struct stat st {};
  REQUIRE(::stat((dir.path() / "state" / "acme-account.pem").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string account =
      shell("cat " + (dir.path() / "state" / "acme-account.json").string()).second;
  CHECK(account.find("\"account\":\"https://localhost:") != std::string::npos);
  // Restarted, the saved certificate serves at once, without a new order.
  {
    RunningProxy again(dir.path(), flags);
    CHECK(presented_serial(again.tls_port(), "web.test") == first_serial);
    std::this_thread::sleep_for(1500ms);  // a tick of the ACME thread: nothing is due
    CHECK(again.process().stderr_text().find("installed") == std::string::npos);
  }
  // Renewing from the start (--acme-renew-at 0) replaces it, with the same account.
  flags.insert(flags.end(), {"--acme-renew-at", "0"});
  RunningProxy again(dir.path(), flags);
  const std::uint16_t port = again.tls_port();
  std::string renewed;
  eventually(
      [&] {
        renewed = presented_serial(port, "web.test");
        return !renewed.empty() && renewed != first_serial;
      },
      90s, 200ms);
  CHECK(renewed != first_serial);
  CHECK(again.process().stderr_text().find("installed") != std::string::npos);
  CHECK(shell("cat " + (dir.path() / "state" / "acme-account.json").string()).second == account);
}

TEST_CASE(
    "an order whose challenge cannot be reached fails, shows why, retries, and changes "
    "nothing") {
  TestBackend backend(TestBackend::respond("app"));
  TempDir dir;
  // Pebble validates on a port where nothing listens: handoff's plain listener is elsewhere.
  PebbleServer pebble(dir.path(), free_port());
  const TestCertificate given = make_certificate({{"web.test"}});
  std::ofstream(dir.path() / "web.crt") << given.chain_pem;
  std::ofstream(dir.path() / "web.key") << given.key_pem;
  RunningProxy proxy(dir.path(), {"--listen-tls", "127.0.0.1:0", "--acme-directory",
                                  pebble.directory(), "--acme-email", "ops@example.com",
                                  "--acme-ca", pebble.ca_file(), "--acme-retry", "1s"});
  REQUIRE(proxy
              .cli({"service", "add", "web", "--host", "web.test", "--upstream", backend.address(),
                    "--tls-cert", (dir.path() / "web.crt").string(), "--tls-key",
                    (dir.path() / "web.key").string()})
              .code == 0);
  const std::uint16_t port = proxy.tls_port();
  const std::string given_serial = presented_serial(port, "web.test");
  REQUIRE(proxy.cli({"service", "update", "web", "--tls", "acme"}).code == 0);
  const json::object tls = wait_for_acme(proxy, "web", "failed");
  REQUIRE_MESSAGE(tls.at("acme").at("state") == "failed", json::serialize(tls));
  CHECK_FALSE(tls.at("acme").at("error").as_string().empty());
  CHECK_FALSE(tls.at("acme").at("next_attempt").as_string().empty());
  // The service keeps the certificate it had, and keeps serving.
  CHECK(presented_serial(port, "web.test") == given_serial);
  CHECK(proxy.process().stderr_text().find("acme: service web: no certificate") !=
        std::string::npos);
  // It is tried again (1 s, then 2 s...): a second failure is logged.
  CHECK(eventually(
      [&] {
        const std::string err = proxy.process().stderr_text();
        const std::size_t first = err.find("acme: service web: no certificate");
        return err.find("acme: service web: no certificate", first + 1) != std::string::npos;
      },
      60s));
}

TEST_CASE("kill -9 in the middle of an order, then a restart: the certificate comes, one account") {
  TestBackend backend(TestBackend::respond("secure"));
  TempDir dir;
  const std::uint16_t http_port = free_port();
  PebbleServer pebble(dir.path(), http_port);
  const std::vector<std::string> flags = {
      "--listen",         "127.0.0.1:" + std::to_string(http_port),
      "--listen-tls",     "127.0.0.1:0",
      "--acme-directory", pebble.directory(),
      "--acme-email",     "ops@example.com",
      "--acme-ca",        pebble.ca_file()};
  const fs::path account_file = dir.path() / "state" / "acme-account.json";
  {
    RunningProxy proxy(dir.path(), flags);
    REQUIRE(proxy
                .cli({"service", "add", "web", "--host", "web.test", "--upstream",
                      backend.address(), "--tls", "acme"})
                .code == 0);
    // The order is under way (pebble waits up to 15 s before it validates): kill it there.
    REQUIRE(wait_for_acme(proxy, "web", "issuing", 10s).at("acme").at("state") == "issuing");
    std::this_thread::sleep_for(500ms);
    proxy.process().signal(SIGKILL);
    CHECK(proxy.process().wait_exit() == 128 + SIGKILL);
  }
  const std::string account_before =
      fs::exists(account_file) ? shell("cat " + account_file.string()).second : "";
  RunningProxy again(dir.path(), flags);
  const json::object tls = wait_for_acme(again, "web", "valid");
  REQUIRE_MESSAGE(tls.at("acme").at("state") == "valid", json::serialize(tls), pebble.log());
  const std::uint16_t port = again.tls_port();
  const auto [code, out] = shell("curl -sS --cacert " + pebble.issuing_root() +
                                 " --resolve web.test:" + std::to_string(port) +
                                 ":127.0.0.1 https://web.test:" + std::to_string(port) + "/ 2>&1");
  CHECK(code == 0);
  CHECK(out == "secure");
  // The account registered before the kill is the one used after it.
  CHECK_FALSE(account_before.empty());  // registered before the order began
  CHECK(shell("cat " + account_file.string()).second == account_before);
}

TEST_CASE("--tls acme is refused when handoff runs without an ACME directory") {
  TempDir dir;
  RunningProxy proxy(dir.path());
  const CommandResult r =
      proxy.cli({"service", "add", "web", "--host", "web.test", "--tls", "acme"});
  CHECK(r.code != 0);
  CHECK(r.err.find("--acme-directory") != std::string::npos);
  CHECK(proxy.cli({"service", "list"}).out.find("web") == std::string::npos);
}
