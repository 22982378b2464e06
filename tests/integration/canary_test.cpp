// Canaries on plain upstreams, against a real `handoff run` process: the split and its sticky
// cookie, the automatic rollback of a faulty canary, a promotion under load, and a canary that
// survives kill -9. What each backend received is what is counted.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/handoff_process.hpp"
#include "tests/support/load_generator.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/unix_http.hpp"
#include "tests/support/wrk_run.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// The `canary` object of the default service in status (null when none runs).
json::value canary_status(const RunningProxy& proxy) {
  const json::value status = json::parse(unix_request(proxy.control(), "GET", "/v1/status").body);
  for (const json::value& s : status.at("services").as_array()) {
    if (s.at("name").as_string() == "default") {
      return s.at("canary");
    }
  }
  return nullptr;
}

// Whether the canary of `default` ends (rolled back or promoted by handoff) within `limit`.
bool canary_ends_within(const RunningProxy& proxy, std::chrono::seconds limit) {
  return eventually([&] { return canary_status(proxy).is_null(); }, limit);
}

// A backend that answers every `fail_every`th request 500, the others 200 with `body`.
TestBackend::Handler failing_every(std::string body, int fail_every) {
  auto count = std::make_shared<std::atomic<int>>(0);
  return [body, fail_every, count](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target != "/up" && ++*count % fail_every == 0) {
        c.send("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
      } else {
        c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
               body);
      }
    }
  };
}

// Backend requests other than the health checks.
std::size_t app_requests(const TestBackend& b) {
  std::size_t n = 0;
  for (const auto& r : b.requests()) {
    n += r.target != "/up" ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE(
    "a 10% canary takes 10 +- 2% of 20,000 new clients, and a cookie keeps each on its side") {
  TestBackend v1(TestBackend::respond("v1"));
  TestBackend v2(TestBackend::respond("v2"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", v1.address()});
  const CommandResult started = proxy.cli(
      {"swap", "default", "--to", v2.address(), "--canary", "10%", "--health-interval", "100ms"});
  REQUIRE_MESSAGE(started.code == 0, started.out << started.err);
  CHECK(started.out.find("takes 10% of clients") != std::string::npos);

  SocketClient client(proxy.port());
  int on_canary = 0;
  std::string canary_cookie;
  std::string serving_cookie;
  for (int i = 0; i < 20'000; ++i) {
    REQUIRE(client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    const Response r = client.read_response();
    REQUIRE(r.status == 200);
    const std::string cookie = r.header("set-cookie");
    REQUIRE(cookie.starts_with("handoff_canary="));
    CHECK(cookie.find("; Path=/; HttpOnly; SameSite=Lax") != std::string::npos);
    (r.body == "v2" ? canary_cookie : serving_cookie) = cookie.substr(0, cookie.find(';'));
    on_canary += r.body == "v2" ? 1 : 0;
  }
  MESSAGE("on the canary: " << on_canary << " of 20000");
  CHECK(on_canary >= 1600);
  CHECK(on_canary <= 2400);
  CHECK(app_requests(v2) == static_cast<std::size_t>(on_canary));  // what reached the backends
  CHECK(app_requests(v1) == static_cast<std::size_t>(20'000 - on_canary));

  // A client with the cookie stays on its side, over HTTP/1.1 and among other cookies, and is
  // not given another.
  for (const auto& [cookie, version] : {std::pair{canary_cookie, "v2"}, {serving_cookie, "v1"}}) {
    for (int i = 0; i < 50; ++i) {
      const Response r = request_once(
          proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\nCookie: theme=dark; " + cookie + "\r\n\r\n");
      CHECK(r.body == version);
      CHECK(r.header("set-cookie").empty());
    }
  }
  // Raising the share moves clients onto the canary only: the canary's stay there.
  CHECK(proxy.cli({"canary", "default", "--percent", "50%"}).code == 0);
  CHECK(request_once(proxy.port(),
                     "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + canary_cookie + "\r\n\r\n")
            .body == "v2");
  CHECK(canary_status(proxy).at("percent").to_number<double>() == 50.0);
  // A bad share is refused and changes nothing.
  const CommandResult bad = proxy.cli({"canary", "default", "--percent", "120%"});
  CHECK(bad.code != 0);
  CHECK(canary_status(proxy).at("percent").to_number<double>() == 50.0);
  // A second canary, or a swap under the canary, is refused.
  const CommandResult under =
      proxy.cli({"swap", "default", "--to", v1.address(), "--no-health-check"});
  CHECK(under.code != 0);
  CHECK(under.err.find("a canary runs on 'default'") != std::string::npos);
}

TEST_CASE(
    "a canary that answers 500 to 5% of requests is rolled back by itself, serving untouched") {
  TestBackend v1(TestBackend::respond("v1"));
  TestBackend v2(failing_every("v2", 20));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", v1.address()});
  REQUIRE(proxy
              .cli({"swap", "default", "--to", v2.address(), "--canary", "20%", "--max-error-rate",
                    "1%", "--window", "30s", "--min-requests", "100", "--health-interval", "100ms"})
              .code == 0);
  LoadGenerator load(proxy.port(), "a");
  CHECK(canary_ends_within(proxy, 20s));
  const std::size_t canary_seen = app_requests(v2);
  std::this_thread::sleep_for(500ms);
  load.stop();
  CHECK(app_requests(v2) == canary_seen);  // nothing reached the canary after its rollback
  CHECK(canary_seen >= 100);               // judged only after its minimum of requests
  // The serving set answered every request sent to it; the failures were the canary's own.
  const auto bodies = load.bodies();
  CHECK(bodies.count("v1") == 1);
  CHECK(static_cast<std::size_t>(load.failed()) <= canary_seen / 20 + 1);
  CHECK(proxy.process().stderr_text().find("canary of default rolled back: 5xx rate") !=
        std::string::npos);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
  // The rollback was saved: a restart has no canary.
  proxy.process().signal(SIGKILL);
  proxy.process().wait_exit();
  RunningProxy again(dir.path());
  CHECK(canary_status(again).is_null());
  CHECK(request_once(again.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
}

TEST_CASE("a canary survives kill -9, and its promotion under wrk fails no request") {
  TestBackend v1(TestBackend::respond("v1"));
  TestBackend v2(TestBackend::respond("v2"));
  TempDir dir;
  auto proxy = std::make_unique<RunningProxy>(dir.path(),
                                              std::vector<std::string>{"--upstream", v1.address()});
  REQUIRE(
      proxy->cli({"swap", "default", "--to", v2.address(), "--canary", "30%", "--no-health-check"})
          .code == 0);
  proxy->process().signal(SIGKILL);
  proxy->process().wait_exit();
  proxy = std::make_unique<RunningProxy>(dir.path());
  const json::value canary = canary_status(*proxy);
  REQUIRE(canary.is_object());
  CHECK(canary.at("upstream").as_string() == v2.address());
  CHECK(canary.at("percent").to_number<double>() == 30.0);

  auto load = std::async(std::launch::async, [&] { return run_wrk(proxy->port(), 4, 20); });
  REQUIRE(eventually([&] { return proxy->requests("default") > 500; }, 10s, 20ms));
  const CommandResult promoted = proxy->cli({"promote", "default"});
  CHECK_MESSAGE(promoted.code == 0, promoted.out << promoted.err);
  const std::size_t v1_after_promotion = app_requests(v1);
  const WrkResult result = load.get();
  INFO(result.output);
  CHECK(result.requests > 1000);
  CHECK(result.failed() == 0);
  CHECK(app_requests(v1) == v1_after_promotion);  // no request started on the old set after
  CHECK(canary_status(*proxy).is_null());
  for (int i = 0; i < 20; ++i) {
    const Response r = request_once(proxy->port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(r.body == "v2");
    CHECK(r.header("set-cookie").empty());  // no canary: no cookie
  }
  // Promotion, then rollback, goes back to the set that served before.
  const CommandResult back = proxy->cli({"rollback", "default", "--no-health-check"});
  CHECK_MESSAGE(back.code == 0, back.out << back.err);
  CHECK(request_once(proxy->port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
  // With no canary, promote says so.
  const CommandResult none = proxy->cli({"promote", "default"});
  CHECK(none.code != 0);
  CHECK(none.err.find("no canary runs on 'default'") != std::string::npos);
}

TEST_CASE("over HTTP/2 a canary sets its cookie and honours it, as over HTTP/1.1") {
  TestBackend v1(TestBackend::respond("v1"));
  TestBackend v2(TestBackend::respond("v2"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", v1.address(), "--h2c"});
  REQUIRE(
      proxy.cli({"swap", "default", "--to", v2.address(), "--canary", "100%", "--no-health-check"})
          .code == 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/";
  const auto [code, fresh] = shell("curl -sS -i --http2-prior-knowledge " + url);
  REQUIRE(code == 0);
  CHECK(fresh.starts_with("HTTP/2 200"));
  CHECK(fresh.find("set-cookie: handoff_canary=") != std::string::npos);
  CHECK(fresh.find("; Path=/; HttpOnly; SameSite=Lax") != std::string::npos);
  CHECK(fresh.ends_with("v2"));
  // A cookie from before the share changed keeps the client where its bucket says.
  REQUIRE(proxy.cli({"canary", "default", "--percent", "10%"}).code == 0);
  const std::string kept = shell(
                               "curl -sS -i --http2-prior-knowledge -H 'cookie: a=1' -H "
                               "'cookie: handoff_canary=5000' " +
                               url)
                               .second;
  CHECK(kept.find("set-cookie") == std::string::npos);
  CHECK(kept.ends_with("v1"));
  CHECK(shell("curl -sS --http2-prior-knowledge -H 'cookie: handoff_canary=999' " + url).second ==
        "v2");
}

TEST_CASE("the access log and the metrics say which set answered while a canary runs") {
  TestBackend v1(TestBackend::respond("v1"));
  TestBackend v2(TestBackend::respond("v2"));
  TempDir dir;
  const std::string control = (dir.path() / "control.sock").string();
  HandoffProcess proxy({"run", "--listen", "127.0.0.1:0", "--control", control, "--state-dir",
                        (dir.path() / "state").string(), "--upstream", v1.address()},
                       /*capture_stdout=*/true);
  const std::uint16_t port = proxy.wait_listening();
  CHECK(request_once(port, "GET /before HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
  REQUIRE(run_command({"swap", "default", "--to", v2.address(), "--canary", "50%",
                       "--no-health-check", "--control", control})
              .code == 0);
  CHECK(request_once(port, "GET /c HTTP/1.1\r\nHost: a\r\nCookie: handoff_canary=1\r\n\r\n").body ==
        "v2");
  CHECK(request_once(port, "GET /s HTTP/1.1\r\nHost: a\r\nCookie: handoff_canary=9000\r\n\r\n")
            .body == "v1");
  const std::string metrics = unix_request(control, "GET", "/metrics").body;
  CHECK(metrics.find("handoff_canary_percent{service=\"default\"} 50") != std::string::npos);
  CHECK(metrics.find("handoff_canary_requests_total{service=\"default\",code=\"2xx\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("upstream=\"" + v2.address() + "\",set=\"canary\"}") != std::string::npos);
  proxy.signal(SIGTERM);
  CHECK(proxy.wait_exit() == 0);
  const std::string log = proxy.stdout_text();
  INFO(log);
  CHECK(log.find("\"target\":\"/c\"") != std::string::npos);
  CHECK(log.find("\"set\":\"canary\"") != std::string::npos);
  CHECK(log.find("\"set\":\"serving\"") != std::string::npos);
  // Before the canary, a line says nothing of sets.
  const std::size_t before = log.find("\"target\":\"/before\"");
  REQUIRE(before != std::string::npos);
  CHECK(log.substr(before, log.find('\n', before) - before).find("\"set\"") == std::string::npos);
}

TEST_CASE(
    "a canary within its budget is promoted after its bake time, an unhealthy one never starts") {
  TestBackend v1(TestBackend::respond("v1"));
  TestBackend v2(TestBackend::respond("v2"));
  TestBackend sick(TestBackend::respond("sick", 503));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", v1.address()});
  const CommandResult refused =
      proxy.cli({"swap", "default", "--to", sick.address(), "--canary", "10%", "--deploy-timeout",
                 "1s", "--health-interval", "100ms"});
  CHECK(refused.code == 1);
  CHECK(canary_status(proxy).is_null());
  CHECK(app_requests(sick) == 0);  // only its health checks reached it
  // Policy flags without a canary are refused.
  CHECK(proxy.cli({"swap", "default", "--to", v2.address(), "--bake", "2s"}).code != 0);

  REQUIRE(proxy
              .cli({"swap", "default", "--to", v2.address(), "--canary", "50%", "--bake", "2s",
                    "--no-health-check"})
              .code == 0);
  LoadGenerator load(proxy.port(), "a");
  const auto start = std::chrono::steady_clock::now();
  CHECK(canary_ends_within(proxy, 10s));
  CHECK(std::chrono::steady_clock::now() - start >= 1500ms);
  std::this_thread::sleep_for(300ms);
  load.stop();
  CHECK(load.failed() == 0);
  CHECK(proxy.process().stderr_text().find("canary of default promoted: baked 2 s") !=
        std::string::npos);
  for (int i = 0; i < 10; ++i) {
    CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v2");
  }
}
