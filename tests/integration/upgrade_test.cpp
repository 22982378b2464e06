// `handoff upgrade`: a new handoff process takes the listening sockets and the state over from
// the running one, which then drains and exits, under real load.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/handoff_process.hpp"
#include "tests/support/load_generator.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_certificates.hpp"
#include "tests/support/wrk_run.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {

// Whether process `pid` still runs (a zombie does not).
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const std::size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

bool wait_gone(pid_t pid, std::chrono::milliseconds within) {
  return eventually([&] { return !running(pid); }, within);
}

// The handoff processes an upgrade started: not the test's children, so they are stopped by
// pid. Declared after the first process, so that they stop before its output is joined (they
// write to the same pipe).
struct Successors {
  std::vector<pid_t> pids;
  ~Successors() {
    for (pid_t pid : pids) {
      ::kill(pid, SIGTERM);
    }
    for (pid_t pid : pids) {
      if (!wait_gone(pid, 10s)) {
        ::kill(pid, SIGKILL);
      }
    }
  }
};

// Runs `handoff upgrade` and returns the new process's pid (0 when the upgrade failed).
pid_t upgrade(const RunningProxy& proxy, Successors& successors, std::string* output = nullptr,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"upgrade", "--exec", handoff_binary()};
  args.insert(args.end(), extra.begin(), extra.end());
  const CommandResult r = proxy.cli(args);
  if (output != nullptr) {
    *output = r.out + r.err;
  }
  std::smatch m;
  if (r.code != 0 || !std::regex_search(r.out, m, std::regex(R"(pid (\d+) serves)"))) {
    return 0;
  }
  const pid_t pid = std::stoi(m[1].str());
  successors.pids.push_back(pid);
  return pid;
}

// The processes whose parent is `parent` (the successor an upgrade started).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const std::size_t paren = text.rfind(')');
    if (paren == std::string::npos) {
      continue;
    }
    std::istringstream fields(text.substr(paren + 2));
    char state = 0;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent && state != 'Z') {
      children.push_back(std::stoi(name));
    }
  }
  return children;
}

// Starts a swap to an unhealthy target that holds `default` for about 3 s, and an upgrade that
// waits for it; returns once the successor has asked to take over. The upgrade's result comes
// through `upgrading`.
pid_t upgrade_waiting_for_a_swap(RunningProxy& proxy, TestBackend& unhealthy,
                                 std::future<CommandResult>& swapping,
                                 std::future<CommandResult>& upgrading) {
  swapping = std::async(std::launch::async, [&] {
    return proxy.cli({"swap", "default", "--to", unhealthy.address(), "--deploy-timeout", "3s"});
  });
  REQUIRE(eventually([&] { return !unhealthy.requests().empty(); }));  // the swap is gating
  upgrading = std::async(std::launch::async, [&] {
    return proxy.cli({"upgrade", "--exec", handoff_binary()});
  });
  if (!eventually(
          [&] {
            return proxy.process().stderr_text().find("asks to take over") != std::string::npos;
          },
          5s)) {
    return 0;
  }
  const std::vector<pid_t> children = children_of(proxy.process().pid());
  return children.size() == 1 ? children.front() : 0;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TestBackend::Handler answer(std::string text) {
  return [text](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target == "/slow") {
        std::this_thread::sleep_for(5s);
      }
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(text.size()) + "\r\n\r\n" +
             text);
    }
  };
}

}  // namespace

TEST_CASE("two upgrades under wrk (GET, then POST) fail no request and refuse no connection") {
  TestBackend backend(answer("v1"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--threads", "2"});
  Successors successors;
  const std::string script = std::string(HANDOFF_SOURCE_DIR) + "/bench/post.lua";
  for (const std::string& lua : {std::string(), script}) {
    CAPTURE(lua);
    auto load = std::async(std::launch::async, [&] { return run_wrk(proxy.port(), 9, 50, lua); });
    // Each upgrade meets the load under way: the process that serves has answered some of it.
    for (int i = 0; i < 2; ++i) {
      REQUIRE(eventually([&] { return proxy.requests("default") > 1000; }, 10s, 20ms));
      REQUIRE(upgrade(proxy, successors) != 0);
    }
    const WrkResult result = load.get();
    CAPTURE(result.output);
    CHECK(result.requests > 1000);
    CHECK(result.failed() == 0);
    CHECK(result.connect_errors == 0);
  }
  // The first process drained and exited 0; each successor but the last did too.
  CHECK(proxy.process().wait_exit(10s) == 0);
  for (std::size_t i = 0; i + 1 < successors.pids.size(); ++i) {
    CHECK(wait_gone(successors.pids[i], 10s));
  }
  CHECK(running(successors.pids.back()));
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
}

TEST_CASE("a keep-alive response that began before the handover: the next request is answered") {
  // The backend sends /stream's head and half its body, then the rest once released: the
  // response is under way (and said keep-alive) when the upgrade hands over.
  std::atomic<bool> release{false};
  TestBackend backend([&release](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target != "/stream") {
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext");
        continue;
      }
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst");
      while (!release.load()) {
        std::this_thread::sleep_for(10ms);
      }
      c.send("-half");
    }
  });
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--threads", "1"});
  Successors successors;
  SocketClient client(proxy.port(), 20s);
  REQUIRE(client.send("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n"));
  REQUIRE(eventually([&] { return !backend.requests().empty(); }));
  REQUIRE(upgrade(proxy, successors) != 0);  // the old process has stopped accepting
  release = true;
  const Response streamed = client.read_response();
  CHECK(streamed.status == 200);
  CHECK(streamed.body == "first-half");
  CHECK_FALSE(streamed.closed);  // its head went out before the handover
  // The client's next request on that connection, sent at once, is answered (with close).
  REQUIRE(client.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"));
  const Response next = client.read_response();
  CHECK(next.status == 200);
  CHECK(next.body == "next");
  CHECK(next.header("connection") == "close");
  CHECK(proxy.process().wait_exit(10s) == 0);
}

TEST_CASE("two upgrades under h2load over TLS: GOAWAY moves HTTP/2 clients on, no stream fails") {
  TestBackend backend(answer("v1"));
  TempDir dir;
  const TestCertificate cert = make_certificate({{"localhost"}});
  std::ofstream(dir.path() / "cert.pem") << cert.chain_pem;
  std::ofstream(dir.path() / "key.pem") << cert.key_pem;
  RunningProxy proxy(dir.path(),
                     {"--upstream", backend.address(), "--listen-tls", "127.0.0.1:0",
                      "--tls-default-cert", (dir.path() / "cert.pem").string(), "--tls-default-key",
                      (dir.path() / "key.pem").string(), "--no-access-log"});
  Successors successors;
  auto load = std::async(std::launch::async, [&] {
    return shell("h2load -D 8 -c 10 -m 10 -t 1 https://127.0.0.1:" +
                 std::to_string(proxy.tls_port()) + "/ 2>&1")
        .second;
  });
  // The first upgrade meets the streams under way. h2load's clients do not reconnect after a
  // GOAWAY, so the second one meets no load: it checks that a successor hands over in turn.
  REQUIRE(eventually([&] { return proxy.requests("default") > 200; }, 10s, 20ms));
  REQUIRE(upgrade(proxy, successors) != 0);
  REQUIRE(upgrade(proxy, successors) != 0);
  const std::string out = load.get();
  INFO(out);
  CHECK(out.find("Application protocol: h2") != std::string::npos);
  CHECK(out.find(" 0 failed, 0 errored, 0 timeout") != std::string::npos);
  CHECK(out.find("0 4xx, 0 5xx") != std::string::npos);
  // The old processes sent GOAWAY, finished their streams and exited.
  CHECK(proxy.process().wait_exit(10s) == 0);
  CHECK(wait_gone(successors.pids.front(), 10s));
}

TEST_CASE("after an upgrade, services, hosts, upstreams and certificates are the same") {
  TestBackend backend(answer("api"));
  TestBackend web(answer("web"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--listen-tls", "127.0.0.1:0",
                                  "--metrics-listen", "127.0.0.1:0"});
  const std::uint16_t tls_port = proxy.tls_port();
  std::smatch m;
  std::string err;
  eventually([&] {
    err = proxy.process().stderr_text();
    return std::regex_search(err, m, std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/)"));
  });
  REQUIRE(!m.empty());
  const auto metrics_port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
  const TestCertificate cert = make_certificate({{"web.test"}});
  const auto cert_file = dir.path() / "web.crt";
  const auto key_file = dir.path() / "web.key";
  std::ofstream(cert_file) << cert.chain_pem;
  std::ofstream(key_file) << cert.key_pem;
  REQUIRE(proxy
              .cli({"service", "add", "web", "--host", "web.test", "--upstream", web.address(),
                    "--tls-cert", cert_file.string(), "--tls-key", key_file.string()})
              .code == 0);
  REQUIRE(proxy.cli({"pause", "default", "--max-pause", "100ms"}).code == 0);
  const std::string state_before = read_file(dir.path() / "state" / "state.json");

  Successors successors;
  REQUIRE(upgrade(proxy, successors) != 0);
  CHECK(proxy.process().wait_exit(10s) == 0);

  CHECK(read_file(dir.path() / "state" / "state.json") == state_before);
  // The metrics address was handed over too: the new process answers on it.
  const Response metrics = request_once(metrics_port, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("handoff_connections") != std::string::npos);
  const std::string https = fmt::format(
      "curl -s --resolve web.test:{0}:127.0.0.1 --cacert {1} https://web.test:{0}/ 2>&1", tls_port,
      cert_file.string());
  CHECK(shell(https).second == "web");
  // `default` is still paused (held, then 503), and resumes through the new control socket.
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 503);
  CHECK(proxy.cli({"resume", "default"}).code == 0);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n").body == "api");
  const CommandResult status = proxy.cli({"status"});
  CHECK(status.code == 0);
  CHECK(status.out.find("web.test") != std::string::npos);

  // The successor saved what it took over: stopped and started again, it loads the same.
  const std::string state_after = read_file(dir.path() / "state" / "state.json");
  ::kill(successors.pids.back(), SIGTERM);
  REQUIRE(wait_gone(successors.pids.back(), 10s));
  RunningProxy restarted(dir.path(), {"--listen-tls", "127.0.0.1:0"});
  CHECK(read_file(dir.path() / "state" / "state.json") == state_after);
  CHECK(request_once(restarted.port(), "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n").body == "web");
}

TEST_CASE(
    "a 5 s request in flight at the upgrade completes, an idle keep-alive client is told to "
    "close") {
  TestBackend backend(answer("v1"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  Successors successors;
  auto slow = std::async(std::launch::async, [&] {
    return request_once(proxy.port(), "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  SocketClient idle(proxy.port());
  REQUIRE(idle.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  REQUIRE(idle.read_response().status == 200);
  REQUIRE(eventually([&] {  // the slow request reaches the backend
    const auto seen = backend.requests();
    return std::any_of(seen.begin(), seen.end(), [](const auto& r) { return r.target == "/slow"; });
  }));

  REQUIRE(upgrade(proxy, successors) != 0);
  // The old process still serves the connection it has, idle as it is: its next request, even
  // seconds later, is answered, and the answer says to close.
  std::this_thread::sleep_for(2s);
  REQUIRE(idle.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  const Response last = idle.read_response();
  CHECK(last.status == 200);
  CHECK(last.header("connection") == "close");
  CHECK(idle.closed_by_peer(2s));
  const Response r = slow.get();
  CHECK(r.status == 200);
  CHECK(r.body == "v1");
  CHECK(proxy.process().wait_exit(10s) == 0);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
}

TEST_CASE("a WebSocket open at the upgrade echoes until the drain timeout, then hears 1001") {
  TestBackend backend(TestBackend::websocket_echo);
  TestBackend plain(answer("plain"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  REQUIRE(proxy.cli({"service", "add", "web", "--host", "web.test", "--upstream", plain.address()})
              .code == 0);
  Successors successors;
  SocketClient ws(proxy.port());
  ws.send(
      "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  REQUIRE(ws.read_response().status == 101);
  // The old process's drain starts after this moment: the close cannot come sooner than 2 s.
  const auto asked = std::chrono::steady_clock::now();
  REQUIRE(upgrade(proxy, successors, nullptr, {"--drain-timeout", "2s"}) != 0);
  const auto upgraded = std::chrono::steady_clock::now();
  const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);  // "hello"
  int echoed = 0;
  while (std::chrono::steady_clock::now() - upgraded < 800ms) {
    ws.send(frame);
    echoed += ws.read_exact(frame.size()) == frame ? 1 : 0;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(echoed >= 4);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n").body == "plain");
  CHECK(ws.read_until_close() == std::string("\x88\x02\x03\xe9", 4));
  CHECK(std::chrono::steady_clock::now() - asked >= 1950ms);
  CHECK(proxy.process().wait_exit(10s) == 0);
}

TEST_CASE("an upgrade to a binary that fails leaves the old process serving, and says why") {
  TestBackend backend(answer("v1"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  Successors successors;
  const auto broken = dir.path() / "broken-handoff";
  std::ofstream(broken) << "#!/bin/sh\necho 'broken: cannot start' >&2\nexit 3\n";
  std::filesystem::permissions(broken, std::filesystem::perms::owner_all);
  LoadGenerator load(proxy.port(), "a");
  REQUIRE(eventually([&] { return load.ok() >= 20; }));  // the load runs

  CommandResult r = proxy.cli({"upgrade", "--exec", broken.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("exited with status 3 before taking over") != std::string::npos);
  CHECK(r.err.find("broken: cannot start") != std::string::npos);
  r = proxy.cli({"upgrade", "--exec", "/bin/false"});
  CHECK(r.code == 1);
  r = proxy.cli({"upgrade", "--exec", (dir.path() / "missing").string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("is not an executable file") != std::string::npos);
  // A handoff that cannot build its daemon (a flag the running process has, made bad by a
  // changed binary, is simulated by a wrapper adding a bad one) gives up and says so.
  const auto bad_flags = dir.path() / "bad-flags-handoff";
  std::ofstream(bad_flags) << "#!/bin/sh\nexec " << handoff_binary() << " \"$@\" --threads 0\n";
  std::filesystem::permissions(bad_flags, std::filesystem::perms::owner_all);
  r = proxy.cli({"upgrade", "--exec", bad_flags.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("--threads must be at least 1") != std::string::npos);

  std::this_thread::sleep_for(300ms);
  load.stop();
  CHECK(load.failed() == 0);
  CHECK(load.ok() > 0);
  // The state is not frozen: the API changes it again.
  CHECK(proxy.cli({"service", "add", "other", "--host", "other.test"}).code == 0);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
  CHECK(proxy.process().stderr_text().find("did not take over") != std::string::npos);
}

TEST_CASE("an upgrade waits for a swap in progress, or is refused with --no-wait") {
  TestBackend backend(answer("v1"));
  TestBackend unhealthy([](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      c.send("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    }
  });
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  Successors successors;
  auto swap = std::async(std::launch::async, [&] {
    return proxy.cli({"swap", "default", "--to", unhealthy.address(), "--deploy-timeout", "8s"});
  });
  REQUIRE(eventually([&] { return !unhealthy.requests().empty(); }));  // the swap is gating
  std::string output;
  CHECK(upgrade(proxy, successors, &output, {"--no-wait"}) == 0);
  CHECK(output.find("a workflow is running on 'default'") != std::string::npos);
  const auto start = std::chrono::steady_clock::now();
  // Its own timeout (3 s here: room for a loaded machine) does not count the wait for the
  // swap (about 7 s more).
  const pid_t successor = upgrade(proxy, successors, &output, {"--timeout", "3s"});
  INFO(output);
  CHECK(successor != 0);
  CHECK(std::chrono::steady_clock::now() - start > 3s);  // it waited for the swap to fail
  CHECK(output.find("handover      waits for the workflow on 'default' to end") !=
        std::string::npos);
  CHECK(swap.get().code != 0);
  CHECK(proxy.process().wait_exit(10s) == 0);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
}

TEST_CASE("kill -9 of the successor mid-upgrade: the old process serves on, changes work again") {
  TestBackend backend(answer("v1"));
  TestBackend unhealthy(TestBackend::respond("", 503));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  Successors successors;
  std::future<CommandResult> swapping;
  std::future<CommandResult> upgrading;
  const pid_t successor = upgrade_waiting_for_a_swap(proxy, unhealthy, swapping, upgrading);
  REQUIRE(successor > 0);
  ::kill(successor, SIGKILL);
  const CommandResult upgraded = upgrading.get();
  CHECK(upgraded.code == 1);
  CHECK(upgraded.err.find("exited with status 137 before taking over") != std::string::npos);
  CHECK(swapping.get().code != 0);
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
  CHECK(proxy.cli({"service", "add", "other", "--host", "other.test"}).code == 0);
  REQUIRE(upgrade(proxy, successors) != 0);  // and the next upgrade goes through
  CHECK(proxy.process().wait_exit(10s) == 0);
  CHECK(proxy.cli({"service", "list"}).out.find("other.test") != std::string::npos);
}

TEST_CASE("kill -9 of the old process mid-upgrade: the successor gives up, a restart serves") {
  TestBackend backend(answer("v1"));
  TestBackend unhealthy(TestBackend::respond("", 503));
  TempDir dir;
  Successors successors;
  {
    RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
    REQUIRE(proxy.cli({"service", "add", "other", "--host", "other.test"}).code == 0);
    std::future<CommandResult> swapping;
    std::future<CommandResult> upgrading;
    const pid_t successor = upgrade_waiting_for_a_swap(proxy, unhealthy, swapping, upgrading);
    REQUIRE(successor > 0);
    successors.pids.push_back(successor);
    proxy.process().signal(SIGKILL);
    // It was handed nothing and gives up (what it says went to the old process's stderr pipe,
    // gone with it).
    CHECK(wait_gone(successor, 10s));
    CHECK(upgrading.get().code != 0);
    swapping.get();
  }
  RunningProxy restarted(dir.path(), {"--upstream", backend.address()});
  CHECK(request_once(restarted.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v1");
  CHECK(restarted.cli({"service", "list"}).out.find("other.test") != std::string::npos);
  CHECK(restarted.cli({"service", "add", "third", "--host", "third.test"}).code == 0);
}

TEST_CASE("--takeover with no handoff running starts on its own (a front container restarted)") {
  TestBackend backend(answer("alone"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--takeover"});
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "alone");
  CHECK(proxy.process().stderr_text().find("--takeover: no handoff answers on " +
                                           (dir.path() / "takeover.sock").string() +
                                           "; starting on its own") != std::string::npos);
  // A stale socket file (a handoff that was killed) is no one to take over from either.
  proxy.process().signal(SIGKILL);
  proxy.process().wait_exit();
  RunningProxy again(dir.path(), {"--upstream", backend.address(), "--takeover"});
  CHECK(request_once(again.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "alone");
}
