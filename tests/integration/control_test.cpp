// The control socket and the CLI against a real `handoff run` process.
#include <doctest/doctest.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/eventually.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {
// Answers with its name on every path; /up is its health check; /slow takes 800 ms.
// Waits up to 2 s until `status` shows a workflow running.
bool becomes_busy(const RunningProxy& proxy) {
  return eventually(
      [&] {
        return unix_request(proxy.control(), "GET", "/v1/status").body.find("\"busy\":true") !=
               std::string::npos;
      },
      2s);
}

TestBackend::Handler app(std::string name, int up_status = 200) {
  return [name, up_status](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target == "/slow") {
        std::this_thread::sleep_for(800ms);
      }
      const int status = r->target == "/up" ? up_status : 200;
      c.send("HTTP/1.1 " + std::to_string(status) +
             " X\r\nContent-Length: " + std::to_string(name.size()) + "\r\n\r\n" + name);
    }
  };
}

std::string get(std::uint16_t port, const std::string& host = "a", const std::string& path = "/") {
  return request_once(port, "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n").body;
}

// What a restart must keep of `status`: every service's routing and workflow state, without
// the counters that start again from zero.
// What a restart must keep of a canary: its set, share and policy (not its counters).
boost::json::value canary_setting(const boost::json::value& canary) {
  if (!canary.is_object()) {
    return nullptr;
  }
  boost::json::object kept = canary.as_object();
  kept.erase("members");
  kept.erase("requests");
  kept.erase("errors");
  return kept;
}

std::string routing_state(const RunningProxy& proxy) {
  const UnixResponse r = unix_request(proxy.control(), "GET", "/v1/status");
  boost::json::object status = boost::json::parse(r.body).as_object();
  boost::json::array kept;
  for (const auto& v : status.at("services").as_array()) {
    const auto& s = v.as_object();
    kept.push_back(boost::json::object{{"name", s.at("name")},
                                       {"hosts", s.at("hosts")},
                                       {"strip_prefix", s.at("strip_prefix")},
                                       {"upstream", s.at("upstream")},
                                       {"previous", s.at("previous")},
                                       {"generation", s.at("generation")},
                                       {"paused", s.at("paused")},
                                       {"container", s.at("container")},
                                       {"max_conns_per_member", s.at("max_conns_per_member")},
                                       {"canary", canary_setting(s.at("canary"))}});
  }
  return boost::json::serialize(kept);
}
}  // namespace

TEST_CASE("swap through the CLI moves traffic after the health gate, with progress lines") {
  TestBackend blue(app("blue"));
  TestBackend green(app("green"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  CHECK(get(proxy.port()) == "blue");

  CommandResult r =
      proxy.cli({"swap", "default", "--to", green.address(), "--health-interval", "100ms"});
  CHECK(r.code == 0);
  CHECK(r.out.find("health check  attempt 1: HTTP 200") != std::string::npos);
  CHECK(r.out.find("health check  passed") != std::string::npos);
  CHECK(r.out.find("switch        " + blue.address() + " -> " + green.address()) !=
        std::string::npos);
  CHECK(r.out.find("drain         done") != std::string::npos);
  CHECK(get(proxy.port()) == "green");
  // The gate needed its two 2xx and no more; the health monitor goes on probing the member
  // while it serves.
  CHECK(r.out.find("attempt 2: HTTP 200 (2/2 healthy") != std::string::npos);
  CHECK(r.out.find("attempt 3") == std::string::npos);
  std::size_t probes = 0;
  for (const auto& req : green.requests()) {
    probes += req.target == "/up" ? 1 : 0;
  }
  CHECK(probes >= 2);

  CommandResult status = proxy.cli({"status"});
  CHECK(status.code == 0);
  CHECK(status.out.find(green.address()) != std::string::npos);

  CommandResult back = proxy.cli({"rollback", "default", "--health-interval", "100ms"});
  CHECK(back.code == 0);
  CHECK(get(proxy.port()) == "blue");
}

TEST_CASE("an unhealthy target is refused and nothing changes") {
  TestBackend blue(app("blue"));
  TestBackend sick(app("sick", 503));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  CommandResult r = proxy.cli({"swap", "default", "--to", sick.address(), "--health-interval",
                               "100ms", "--deploy-timeout", "600ms"});
  CHECK(r.code == 1);
  CHECK(r.err.find("swap failed") != std::string::npos);
  CHECK(r.err.find("last: HTTP 503") != std::string::npos);
  CHECK(get(proxy.port()) == "blue");

  // A redirect is not healthy either, and the API says 422 to a plain JSON client.
  TestBackend redirect([](BackendConnection& c, TestBackend&) {
    while (c.read_request()) {
      c.send("HTTP/1.1 302 Found\r\nLocation: /up2\r\nContent-Length: 0\r\n\r\n");
    }
  });
  UnixResponse api = unix_request(proxy.control(), "POST", "/v1/services/default/swap",
                                  R"({"to":")" + redirect.address() +
                                      R"(","deploy_timeout":"300ms","health_interval":"100ms"})");
  CHECK(api.status == 422);
  CHECK(api.body.find("\"error\":\"health_check_failed\"") != std::string::npos);
  CHECK(get(proxy.port()) == "blue");
}

TEST_CASE("a second workflow on the same service gets 409") {
  TestBackend blue(app("blue"));
  TestBackend sick(app("sick", 503));
  TestBackend green(app("green"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  auto first = std::async(std::launch::async, [&] {
    return proxy.cli({"swap", "default", "--to", sick.address(), "--deploy-timeout", "1500ms",
                      "--health-interval", "100ms"});
  });
  // The first swap holds the service once its health gate probes the target (a slow start,
  // under a sanitizer, must not let the second one go first).
  REQUIRE(eventually([&] { return !sick.requests().empty(); }));
  UnixResponse second = unix_request(proxy.control(), "POST", "/v1/services/default/swap",
                                     R"({"to":")" + green.address() + R"("})");
  CHECK(second.status == 409);
  CHECK(second.body.find("\"error\":\"busy\"") != std::string::npos);
  CHECK(first.get().code == 1);
  CHECK(get(proxy.port()) == "blue");
}

TEST_CASE("a drain waits for the slow request on the old upstream") {
  TestBackend blue(app("blue"));
  TestBackend green(app("green"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  auto slow = std::async(std::launch::async, [&] { return get(proxy.port(), "a", "/slow"); });
  REQUIRE(eventually([&] { return !blue.requests().empty(); }));  // the slow request is in flight
  CommandResult r = proxy.cli({"swap", "default", "--to", green.address(), "--no-health-check"});
  CHECK(r.code == 0);
  CHECK(r.out.find("drain         1 in flight on " + blue.address()) != std::string::npos);
  CHECK(slow.get() == "blue");
  CHECK(get(proxy.port()) == "green");
}

TEST_CASE("services are routed by Host, exact and wildcard, with default catching the rest") {
  TestBackend shop(app("shop"));
  TestBackend api(app("api"));
  TestBackend fallback(app("fallback"));
  TempDir dir;
  RunningProxy proxy(dir.path());
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 404);
  CHECK(proxy.cli({"service", "add", "shop", "--host", "shop.test", "--upstream", shop.address()})
            .code == 0);
  CHECK(proxy.cli({"service", "add", "api", "--host", "*.api.test", "--upstream", api.address()})
            .code == 0);
  CHECK(get(proxy.port(), "shop.test") == "shop");
  CHECK(get(proxy.port(), "SHOP.test:8080") == "shop");
  CHECK(get(proxy.port(), "v2.api.test") == "api");
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n").status == 404);
  CHECK(proxy.cli({"service", "add", "default", "--upstream", fallback.address()}).code == 0);
  CHECK(get(proxy.port(), "other.test") == "fallback");
  CommandResult taken =
      proxy.cli({"service", "add", "dup", "--host", "shop.test", "--upstream", shop.address()});
  CHECK(taken.code == 1);
  CHECK(taken.err.find("already routes to service 'shop'") != std::string::npos);
  CHECK(proxy.cli({"service", "remove", "shop"}).code == 0);
  CHECK(get(proxy.port(), "shop.test") == "fallback");
}

TEST_CASE("pause holds requests until resume, and max-pause turns them into 503") {
  TestBackend blue(app("blue"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  CHECK(proxy.cli({"pause", "default", "--max-pause", "5s"}).code == 0);
  auto held = std::async(std::launch::async, [&] { return get(proxy.port()); });
  CHECK(held.wait_for(400ms) == std::future_status::timeout);
  CHECK(proxy.cli({"resume", "default"}).code == 0);
  CHECK(held.get() == "blue");

  CHECK(proxy.cli({"pause", "default", "--max-pause", "300ms"}).code == 0);
  auto start = std::chrono::steady_clock::now();
  Response r = request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(r.status == 503);
  CHECK(r.header("retry-after") == "5");
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
  CHECK(proxy.cli({"resume", "default"}).code == 0);

  // A maintenance pause: its own message and Retry-After, kept across a restart.
  CHECK(proxy
            .cli({"pause", "default", "--max-pause", "200ms", "--message",
                  "Back at 10:00 (database upgrade)", "--retry-after", "2m"})
            .code == 0);
  proxy.process().signal(SIGTERM);
  REQUIRE(proxy.process().wait_exit() == 0);
  RunningProxy again(dir.path());
  r = request_once(again.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(r.status == 503);
  CHECK(r.header("retry-after") == "120");
  CHECK(r.body == "Back at 10:00 (database upgrade)\n");
}

TEST_CASE("the control API answers errors as JSON with fitting statuses") {
  TestBackend blue(app("blue"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  UnixResponse status = unix_request(proxy.control(), "GET", "/v1/status");
  CHECK(status.status == 200);
  CHECK(status.body.find("\"name\":\"default\"") != std::string::npos);
  CHECK(unix_request(proxy.control(), "POST", "/v1/services", "{not json").status == 400);
  UnixResponse missing = unix_request(proxy.control(), "POST", "/v1/services", R"({"hosts":[]})");
  CHECK(missing.status == 400);
  CHECK(missing.body.find("\"error\":\"missing_field\"") != std::string::npos);
  CHECK(unix_request(proxy.control(), "POST", "/v1/services/nope/swap", R"({"to":"127.0.0.1:1"})")
            .status == 404);
  CHECK(unix_request(proxy.control(), "POST", "/v1/services/default/swap", R"({"to":"nonsense"})")
            .status == 400);
  CHECK(unix_request(proxy.control(), "POST", "/v1/services/default/rollback").status == 409);
  CHECK(unix_request(proxy.control(), "GET", "/v1/services/default/swap").status == 405);
  CHECK(unix_request(proxy.control(), "GET", "/v2/unknown").status == 404);
  CHECK(unix_request(proxy.control(), "POST", "/v1/services", std::string(2 << 20, 'x')).status ==
        400);
  // Streaming clients get one JSON event per line as the swap runs.
  UnixResponse streamed = unix_request(proxy.control(), "POST", "/v1/services/default/swap",
                                       R"({"to":")" + blue.address() + R"(","health_check":false})",
                                       "Accept: application/x-ndjson\r\n");
  CHECK(streamed.status == 200);
  CHECK(streamed.body.find("{\"step\":\"swap\"") != std::string::npos);
  CHECK(streamed.body.find("{\"result\":\"ok\"") != std::string::npos);

  get(proxy.port());
  // The proxy counts a request just after its client has the answer; let the count settle.
  UnixResponse metrics;
  eventually([&] {
    metrics = unix_request(proxy.control(), "GET", "/metrics");
    return metrics.body.find("code=\"2xx\"} 1") != std::string::npos &&
           metrics.body.find("generation=\"2\"} 0") != std::string::npos;
  });
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("handoff_requests_total{service=\"default\",code=\"2xx\"} 1") !=
        std::string::npos);
  CHECK(metrics.body.find("handoff_swap_duration_seconds_count{service=\"default\"} 1") !=
        std::string::npos);
  CHECK(metrics.body.find("handoff_in_flight{service=\"default\",generation=\"2\",upstream=\"") !=
        std::string::npos);
}

TEST_CASE("a restart restores services and upstreams from the state directory") {
  TestBackend blue(app("blue"));
  TestBackend green(app("green"));
  TempDir dir;
  {
    RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
    CHECK(proxy.cli({"swap", "default", "--to", green.address(), "--no-health-check"}).code == 0);
    CHECK(proxy.cli({"service", "add", "shop", "--host", "shop.test", "--upstream", blue.address()})
              .code == 0);
    proxy.process().signal(SIGTERM);
    CHECK(proxy.process().wait_exit() == 0);
  }
  RunningProxy again(dir.path(), {"--upstream", blue.address()});
  CHECK(get(again.port()) == "green");  // the deployed upstream, not the --upstream seed
  CHECK(get(again.port(), "shop.test") == "blue");
  CHECK(again.cli({"rollback", "default", "--no-health-check"}).code == 0);
  CHECK(get(again.port()) == "blue");
}

TEST_CASE("a corrupt state file stops the start unless --ignore-state") {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "state");
  std::ofstream(dir.path() / "state" / "state.json") << "{\"version\":1,\"services\":[{";
  auto [code, err] =
      run_handoff({"run", "--listen", "127.0.0.1:0", "--control", (dir.path() / "c.sock").string(),
                   "--state-dir", (dir.path() / "state").string()});
  CHECK(code != 0);
  CHECK(err.find((dir.path() / "state" / "state.json").string()) != std::string::npos);
  CHECK(err.find("corrupt") != std::string::npos);
  CHECK(err.find("--ignore-state") != std::string::npos);
  CHECK(err.find("boost") == std::string::npos);  // the reason, not the library's internals

  TestBackend blue(app("blue"));
  RunningProxy proxy(dir.path(), {"--ignore-state", "--upstream", blue.address()});
  CHECK(get(proxy.port()) == "blue");
}

TEST_CASE("the control socket is private, a stale one is replaced, a live one is refused") {
  TestBackend blue(app("blue"));
  TempDir dir;
  // A socket file left behind by a process that died.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = (dir.path() / "control.sock").string();
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);
  }
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  struct stat st {};
  REQUIRE(::stat(proxy.control().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(proxy.cli({"status"}).code == 0);

  auto [code, err] = run_handoff({"run", "--listen", "127.0.0.1:0", "--control", proxy.control(),
                                  "--state-dir", (dir.path() / "other").string()});
  CHECK(code != 0);
  CHECK(err.find("another handoff is already answering on") != std::string::npos);
  CHECK(proxy.cli({"status"}).code == 0);  // the running one is untouched
}

TEST_CASE("a control verb with no proxy listening says so plainly") {
  TempDir dir;
  CommandResult r = run_command({"status", "--control", (dir.path() / "none.sock").string()});
  CHECK(r.code != 0);
  CHECK(r.err.find("no proxy is running") != std::string::npos);
  CommandResult bad = run_command({"swap", "default"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--to HOST:PORT is required") != std::string::npos);
}

TEST_CASE("the health check can send its own Host header") {
  TestBackend blue(app("blue"));
  // Healthy only for the right virtual host, like an app behind name-based routing.
  TestBackend vhost([](BackendConnection& c, TestBackend&) {
    while (auto r = c.read_request()) {
      const bool ok = r->header("host") == "app.internal";
      c.send(ok ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nvhost"
                : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
  });
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  CHECK(proxy
            .cli({"swap", "default", "--to", vhost.address(), "--deploy-timeout", "400ms",
                  "--health-interval", "100ms"})
            .code == 1);
  CHECK(proxy
            .cli({"swap", "default", "--to", vhost.address(), "--health-host", "app.internal",
                  "--health-interval", "100ms"})
            .code == 0);
}

TEST_CASE("--control-group opens the control socket to that group") {
  TestBackend blue(app("blue"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address(), "--control-group", "daemon"});
  struct stat st {};
  REQUIRE(::stat(proxy.control().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
  CHECK(st.st_gid == ::getgrnam("daemon")->gr_gid);
  auto [code, err] = run_handoff(
      {"run", "--listen", "127.0.0.1:0", "--control", (dir.path() / "other.sock").string(),
       "--state-dir", (dir.path() / "other").string(), "--control-group", "no-such-group"});
  CHECK(code != 0);
  CHECK(err.find("no group named 'no-such-group'") != std::string::npos);
}

TEST_CASE("every state the control API accepts loads again, even after a kill -9") {
  TestBackend blue(app("blue"));
  TestBackend green(app("green"));
  TempDir dir;
  const std::vector<std::string> seed = {"--upstream", blue.address()};
  const std::vector<std::vector<std::string>> commands = {
      {"service", "add", "web", "--host", "example.com"},  // no upstream yet, as documented
      {"service", "add", "shop", "--host", "shop.test", "--host", "*.shop.test", "--upstream",
       blue.address()},
      {"swap", "shop", "--to", green.address(), "--no-health-check"},
      {"pause", "shop", "--max-pause", "5s"},
      {"service", "remove", "default"},  // stays removed although --upstream is given again
      {"resume", "shop"},
      {"pause", "web", "--max-pause", "200ms", "--message", "Back soon", "--retry-after", "1m"},
      {"rollback", "shop", "--no-health-check"},
      {"swap", "web", "--to", green.address(), "--no-health-check"},
      {"service", "update", "shop", "--host", "shop.test", "--host", "*.shop.test/api",
       "--strip-prefix"},
      {"service", "add", "assets", "--host", "/static", "--upstream", green.address()},
      {"swap", "assets", "--to", green.address(), "--to", blue.address(), "--unhealthy-threshold",
       "4", "--health-interval", "300ms"},
      {"swap", "assets", "--to", green.address()},
      {"swap", "assets", "--to", blue.address(), "--canary", "25%", "--no-health-check",
       "--max-error-rate", "2.5%", "--window", "30s", "--min-requests", "40", "--bake", "1h"},
      {"canary", "assets", "--percent", "40%"},
      {"promote", "assets"},
      {"swap", "assets", "--to", green.address(), "--canary", "10%", "--no-health-check"},
      {"rollback", "assets"},
      {"service", "update", "assets", "--max-conns-per-member", "3"},
      {"service", "add", "capped", "--host", "capped.test", "--upstream", blue.address(),
       "--max-conns-per-member", "0"},
  };
  auto proxy = std::make_unique<RunningProxy>(dir.path(), seed);
  for (const auto& command : commands) {
    CAPTURE(command.front());
    CAPTURE(command.at(1));
    REQUIRE(proxy->cli(command).code == 0);
    const std::string before = routing_state(*proxy);
    proxy->process().signal(SIGKILL);
    proxy->process().wait_exit();
    proxy.reset();
    proxy = std::make_unique<RunningProxy>(dir.path(), seed);
    CHECK(routing_state(*proxy) == before);
  }
  // The restored services serve: web was paused (held, then 503 after its max pause, with its
  // message and Retry-After), shop strips its prefix, assets claims /static on every host.
  const Response held = request_once(proxy->port(), "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  CHECK(held.status == 503);
  CHECK(held.body == "Back soon\n");
  CHECK(held.header("retry-after") == "60");
  CHECK(get(proxy->port(), "shop.test") == "blue");
  CHECK(get(proxy->port(), "v1.shop.test", "/api/x") == "blue");
  CHECK(get(proxy->port(), "other.test", "/static/a.css") == "blue");  // the promoted canary
  CHECK(proxy->cli({"resume", "web"}).code == 0);
  CHECK(get(proxy->port(), "example.com") == "green");
  CHECK(request_once(proxy->port(), "GET / HTTP/1.1\r\nHost: other\r\n\r\n").status == 404);
}

TEST_CASE("the control API refuses unknown fields, repeated keys and numbers out of range") {
  TestBackend blue(app("blue"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  auto refused = [&](std::string_view target, std::string_view body, std::string_view code,
                     std::string_view field) {
    const UnixResponse r = unix_request(proxy.control(), "POST", target, body);
    CHECK_MESSAGE(r.status == 400, body);
    CHECK_MESSAGE(r.body.find(code) != std::string::npos, r.body);
    CHECK_MESSAGE(r.body.find(field) != std::string::npos, r.body);
  };
  refused("/v1/services", R"({"name":"x","hostz":["a"]})", "unknown_field", "hostz");
  refused("/v1/services", R"({"name":"x","name":"y"})", "repeated_field", "name");
  refused("/v1/services/default/swap", R"({"to":"127.0.0.1:1","drain_timout":"1s"})",
          "unknown_field", "drain_timout");
  refused("/v1/services/default/swap", R"({"to":"127.0.0.1:1","healthy_threshold":1e3})",
          "bad_field", "healthy_threshold");
  refused("/v1/services/default/deploy", R"({"image":"x","host_network":true,"port":4294975488})",
          "bad_field", "port");
  refused("/v1/services/default/deploy", R"({"image":"x","host_network":true,"keep":-1})",
          "bad_field", "keep");
  refused("/v1/services/default/pause", R"({"max_pause":"1s","extra":1})", "unknown_field",
          "extra");
  refused("/v1/services/default/resume", R"({"now":true})", "unknown_field", "now");
  // Nothing changed.
  CHECK(routing_state(proxy).find("\"paused\":false") != std::string::npos);
  CHECK(unix_request(proxy.control(), "GET", "/v1/status").body.find("\"x\"") == std::string::npos);
}

TEST_CASE("a control client that sends half a request is answered 408 and closed") {
  TestBackend blue(app("blue"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, proxy.control().c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string partial =
      "POST /v1/services HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\n{";
  REQUIRE(::send(fd, partial.data(), partial.size(), 0) == static_cast<ssize_t>(partial.size()));
  timeval tv{15, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  CHECK(answer.rfind("HTTP/1.1 408", 0) == 0);
  // Meanwhile the API kept answering others.
  CHECK(unix_request(proxy.control(), "GET", "/v1/status").status == 200);
}

TEST_CASE("a container engine that never answers does not stall status") {
  // A unix socket that accepts connections and never answers: a hung Docker engine.
  TempDir dir;
  const std::string engine_path = (dir.path() / "engine.sock").string();
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, engine_path.c_str(), sizeof addr.sun_path - 1);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 16) == 0);
  ::setenv("DOCKER_HOST", ("unix://" + engine_path).c_str(), 1);
  TestBackend blue(app("blue"));
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  ::unsetenv("DOCKER_HOST");
  auto deploy = std::async(std::launch::async, [&] {
    return proxy.cli({"deploy", "default", "--image", "app:v1", "--host-network"});
  });
  pollfd reached{listener, POLLIN, 0};
  REQUIRE(::poll(&reached, 1, 10'000) == 1);              // the deploy has reached the engine...
  const int held = ::accept(listener, nullptr, nullptr);  // ...which never answers
  REQUIRE(held >= 0);
  const auto start = std::chrono::steady_clock::now();
  CHECK(unix_request(proxy.control(), "GET", "/v1/status").status == 200);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  const CommandResult result = deploy.get();
  CHECK(result.code != 0);
  CHECK(get(proxy.port()) == "blue");  // the old version still serves
  ::close(held);
  ::close(listener);
}

TEST_CASE("requests cut at a drain timeout, refused or unrouted are logged and counted") {
  TestBackend blue(app("blue"));
  TestBackend green(app("green"));
  TempDir dir;
  const std::string control = (dir.path() / "control.sock").string();
  HandoffProcess proxy({"run", "--listen", "127.0.0.1:0", "--control", control, "--state-dir",
                        (dir.path() / "state").string()},
                       /*capture_stdout=*/true);
  const std::uint16_t port = proxy.wait_listening();
  auto cli = [&](std::vector<std::string> args) {
    args.push_back("--control");
    args.push_back(control);
    return run_command(std::move(args));
  };
  REQUIRE(
      cli({"service", "add", "shop", "--host", "shop.test", "--upstream", blue.address()}).code ==
      0);
  auto slow = std::async(std::launch::async, [&] {
    return request_once(port, "GET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\n").status;
  });
  REQUIRE(eventually([&] { return !blue.requests().empty(); }));  // the slow request is in flight
  CHECK(cli({"swap", "shop", "--to", green.address(), "--no-health-check", "--drain-timeout",
             "100ms"})
            .code == 0);
  CHECK(slow.get() == 0);  // cut: the client connection was closed without an answer
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: x/evil\r\n\r\n").status == 400);
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n").status == 404);

  const std::string metrics = unix_request(control, "GET", "/metrics").body;
  CHECK(metrics.find(
            "handoff_requests_unfinished_total{service=\"shop\",reason=\"drain_timeout\"} 1") !=
        std::string::npos);
  CHECK(metrics.find("handoff_unrouted_requests_total 1") != std::string::npos);
  CHECK(metrics.find("handoff_rejected_requests_total 1") != std::string::npos);
  proxy.signal(SIGTERM);
  CHECK(proxy.wait_exit() == 0);
  const std::string log = proxy.stdout_text();
  CHECK(log.find("\"target\":\"/slow\",\"status\":0") != std::string::npos);
  CHECK(log.find("\"error\":\"closed at the drain timeout\"") != std::string::npos);
  CHECK(log.find("\"error\":\"handoff: invalid Host field\"") != std::string::npos);
  CHECK(log.find("\"host\":\"nobody.test\",\"target\":\"/\",\"status\":404") != std::string::npos);
}

// A large body goes to a plain client by splice(2): a drain must still cut it at its timeout,
// and the request is counted and logged like any other cut.
TEST_CASE("a large download to a client that stalls is cut at the drain timeout") {
  TestBackend big([](BackendConnection& c, TestBackend&) {
    if (c.read_request()) {
      const std::size_t total = std::size_t{64} << 20;
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
      const std::string block(1 << 20, 'b');
      for (std::size_t sent = 0; sent < total && c.send(block); sent += block.size()) {
      }
    }
  });
  TestBackend green(app("green"));
  TempDir dir;
  RunningProxy proxy(dir.path());
  REQUIRE(proxy.cli({"service", "add", "shop", "--host", "shop.test", "--upstream", big.address()})
              .code == 0);
  SocketClient lazy(proxy.port(), 10s);
  lazy.send("GET /big HTTP/1.1\r\nHost: shop.test\r\n\r\n");
  CHECK(lazy.read_exact(200 * 1024).size() == 200 * 1024);  // then it reads no more
  std::this_thread::sleep_for(200ms);
  CHECK(proxy
            .cli({"swap", "shop", "--to", green.address(), "--no-health-check", "--drain-timeout",
                  "300ms"})
            .code == 0);
  // What the kernel buffered before the cut still arrives, then the end: never the whole body.
  const auto reading = std::chrono::steady_clock::now();
  const std::size_t rest = lazy.read_until_close().size();
  CHECK(std::chrono::steady_clock::now() - reading < 5s);
  CHECK(200 * 1024 + rest < (std::size_t{64} << 20));
  const std::string metrics = unix_request(proxy.control(), "GET", "/metrics").body;
  CHECK(metrics.find(
            "handoff_requests_unfinished_total{service=\"shop\",reason=\"drain_timeout\"} 1") !=
        std::string::npos);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n").body == "green");
}

TEST_CASE("service update moves hosts without a gap, and service list and --version answer") {
  TestBackend blue(app("blue"));
  TestBackend green(app("green"));
  TempDir dir;
  RunningProxy proxy(dir.path());
  REQUIRE(proxy.cli({"service", "add", "shop", "--host", "shop.test", "--upstream", blue.address()})
              .code == 0);
  REQUIRE(proxy.cli({"service", "add", "web", "--host", "web.test", "--upstream", green.address()})
              .code == 0);
  // Under steady traffic, a service's hosts change: no request goes unrouted.
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::thread load([&] {
    while (!stop) {
      const Response r = request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n");
      failed += r.status == 200 ? 0 : 1;
    }
  });
  std::this_thread::sleep_for(100ms);
  CHECK(proxy.cli({"service", "update", "shop", "--host", "www.shop.test", "--host", "shop.test"})
            .code == 0);
  std::this_thread::sleep_for(100ms);
  stop = true;
  load.join();
  CHECK(failed == 0);
  CHECK(get(proxy.port(), "www.shop.test") == "blue");
  // Moving a host to another service: leave one, then join the other.
  CHECK(proxy.cli({"service", "update", "web", "--host", "shop.test"}).code == 1);  // taken: 409
  CHECK(proxy.cli({"service", "update", "shop", "--host", "old.shop.test"}).code == 0);
  CHECK(proxy.cli({"service", "update", "web", "--host", "web.test", "--host", "shop.test"}).code ==
        0);
  CHECK(get(proxy.port(), "shop.test") == "green");
  CHECK(get(proxy.port(), "old.shop.test") == "blue");
  const CommandResult list = proxy.cli({"service", "list"});
  CHECK(list.code == 0);
  CHECK(list.out.find("web") != std::string::npos);
  CHECK(list.out.find("web.test,shop.test") != std::string::npos);
  CHECK(list.out.find("old.shop.test") != std::string::npos);
  const CommandResult version = run_command({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out.rfind("handoff ", 0) == 0);
}

TEST_CASE("--metrics-listen serves the metrics over TCP with a duration histogram") {
  TestBackend blue(app("blue"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address(), "--metrics-listen", "127.0.0.1:0"});
  for (int i = 0; i < 3; ++i) {
    CHECK(get(proxy.port()) == "blue");
  }
  std::string err;
  eventually([&] {
    err = proxy.process().stderr_text();
    return err.find("/metrics\n") != std::string::npos;
  });
  const std::size_t at = err.find("metrics on http://127.0.0.1:");
  REQUIRE(at != std::string::npos);
  const auto port = static_cast<std::uint16_t>(std::stoi(err.substr(at + 28)));
  const Response r = request_once(port, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n");
  CHECK(r.status == 200);
  CHECK(r.body.find("# TYPE handoff_request_duration_seconds histogram") != std::string::npos);
  CHECK(r.body.find("handoff_request_duration_seconds_bucket{service=\"default\",le=\"+Inf\"} 3") !=
        std::string::npos);
  CHECK(r.body.find("handoff_request_duration_seconds_count{service=\"default\"} 3") !=
        std::string::npos);
  // Every sample line is NAME{LABELS} VALUE, and each family is typed before its samples.
  std::istringstream lines(r.body);
  std::set<std::string> typed;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    const bool known = typed.count(name) != 0 ||
                       std::any_of(typed.begin(), typed.end(), [&](const std::string& t) {
                         return name.rfind(t + "_", 0) == 0;
                       });
    CHECK_MESSAGE(known, line);
    CHECK_MESSAGE(line.find(' ') != std::string::npos, line);
  }
  // Prometheus's own checker finds nothing to say (scripts/install-deps installs promtool).
  const std::filesystem::path scraped = dir.path() / "metrics.txt";
  std::ofstream(scraped) << r.body;
  const std::string command = "promtool check metrics < " + scraped.string() + " 2>&1";
  std::FILE* checker = ::popen(command.c_str(), "r");
  REQUIRE(checker != nullptr);
  std::string verdict;
  for (int c; (c = std::fgetc(checker)) != EOF;) {
    verdict.push_back(static_cast<char>(c));
  }
  CHECK_MESSAGE(::pclose(checker) == 0, verdict);
  CHECK_MESSAGE(verdict.empty(), verdict);
  CHECK(request_once(port, "GET /v1/status HTTP/1.1\r\nHost: m\r\n\r\n").status == 404);
  CHECK(
      request_once(port, "POST /metrics HTTP/1.1\r\nHost: m\r\nContent-Length: 0\r\n\r\n").status ==
      405);
}

TEST_CASE("services may claim path prefixes, with the prefix stripped or kept") {
  // Each backend answers with its name and the path it received.
  auto echo = [](std::string name) {
    return [name](BackendConnection& c, TestBackend& self) {
      while (auto r = c.read_request()) {
        self.record(*r);
        const std::string body = name + " " + r->target;
        c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
               body);
      }
    };
  };
  TestBackend site(echo("site"));
  TestBackend api(echo("api"));
  TempDir dir;
  auto proxy = std::make_unique<RunningProxy>(dir.path());
  REQUIRE(
      proxy->cli({"service", "add", "site", "--host", "shop.test", "--upstream", site.address()})
          .code == 0);
  REQUIRE(proxy
              ->cli({"service", "add", "api", "--host", "shop.test/api", "--strip-prefix",
                     "--upstream", api.address()})
              .code == 0);
  CHECK(get(proxy->port(), "shop.test", "/cart") == "site /cart");
  CHECK(get(proxy->port(), "shop.test", "/api/orders?id=7") == "api /orders?id=7");
  CHECK(get(proxy->port(), "shop.test", "/api") == "api /");
  CHECK(get(proxy->port(), "shop.test", "/apiary") == "site /apiary");
  CHECK(proxy->cli({"service", "add", "bad", "--host", "shop.test/a?b"}).code == 1);
  // Kept across a restart, and --no-strip-prefix forwards the path whole.
  proxy.reset();
  proxy = std::make_unique<RunningProxy>(dir.path());
  CHECK(get(proxy->port(), "shop.test", "/api/orders") == "api /orders");
  REQUIRE(proxy->cli({"service", "update", "api", "--host", "shop.test/api", "--no-strip-prefix"})
              .code == 0);
  CHECK(get(proxy->port(), "shop.test", "/api/orders") == "api /api/orders");
}

TEST_CASE("SIGTERM during a swap says it waits for the running operation, then stops") {
  TestBackend blue(app("blue"));
  TestBackend sick(app("sick", 503));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address(), "--shutdown-timeout", "5s"});
  auto swap = std::async(std::launch::async, [&] {
    return proxy.cli({"swap", "default", "--to", sick.address(), "--deploy-timeout", "1500ms",
                      "--health-interval", "100ms"});
  });
  // Signal only once the swap runs (a slow CLI start, as under a sanitizer, must not race it).
  REQUIRE(becomes_busy(proxy));
  proxy.process().signal(SIGTERM);
  CHECK(proxy.process().wait_exit(10s) == 0);
  const std::string err = proxy.process().stderr_text();
  CHECK(err.find("waiting up to 5.0s for 1 running operation(s)") != std::string::npos);
  CHECK(swap.get().code == 1);  // the health gate failed; the answer still reached the CLI
}

TEST_CASE("SIGTERM stops an operation that outlasts the shutdown timeout, and its client is told") {
  TestBackend blue(app("blue"));
  TestBackend sick(app("sick", 503));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address(), "--shutdown-timeout", "300ms"});
  auto swap = std::async(std::launch::async, [&] {
    return proxy.cli({"swap", "default", "--to", sick.address(), "--deploy-timeout", "60s",
                      "--health-interval", "5s"});
  });
  REQUIRE(becomes_busy(proxy));
  const auto signalled = std::chrono::steady_clock::now();
  proxy.process().signal(SIGTERM);
  CHECK(proxy.process().wait_exit(10s) == 0);
  CHECK(std::chrono::steady_clock::now() - signalled < 4s);  // not the 60 s gate, nor a 5 s wait
  const auto result = swap.get();
  CHECK(result.code == 1);
  CHECK(result.err.find("health check stopped") != std::string::npos);  // the workflow said so
  // A restart finds the old version serving and takes the next command.
  TestBackend green(app("green"));
  RunningProxy again(dir.path());
  CHECK(get(again.port()) == "blue");
  REQUIRE(
      again.cli({"swap", "default", "--to", green.address(), "--health-interval", "100ms"}).code ==
      0);
  CHECK(get(again.port()) == "green");
}
