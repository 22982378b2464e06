// The `handoff run` executable as users start it: flags, start-up errors, signals, memory.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/socket.h>

#include <future>
#include <thread>

#include "tests/support/eventually.hpp"
#include "tests/support/handoff_process.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {
// `run` flags that keep a test's proxy away from the system's control socket and state.
std::vector<std::string> isolated(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin() + 1, {"--control", (dir.path() / "c.sock").string(), "--state-dir",
                                 (dir.path() / "state").string()});
  return args;
}

std::size_t count_lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}
}  // namespace

TEST_CASE("start-up errors print one clear line and exit non-zero") {
  auto [code, err] = run_handoff({"run", "--bogus"});
  CHECK(code != 0);
  CHECK(err == "handoff: unknown flag --bogus (see --help)\n");

  std::tie(code, err) = run_handoff({"run", "--listen", "nonsense", "--upstream", "127.0.0.1:1"});
  CHECK(code != 0);
  CHECK(err.find("bad address 'nonsense'") != std::string::npos);
  CHECK(count_lines(err) == 1);

  std::tie(code, err) = run_handoff({"run", "--listen", "127.0.0.1:1", "--threads", "x"});
  CHECK(code != 0);
  CHECK(err.find("--threads") != std::string::npos);
  for (const auto& [flag, value] :
       {std::pair{"--max-conns-per-member", "-1"}, std::pair{"--max-queue", "lots"},
        std::pair{"--queue-timeout", "soon"}}) {
    CAPTURE(flag);
    std::tie(code, err) = run_handoff({"run", "--listen", "127.0.0.1:1", flag, value});
    CHECK(code != 0);
    CHECK(err.find(flag) != std::string::npos);
    CHECK(count_lines(err) == 1);
  }

  TempDir zero_dir;
  std::tie(code, err) =
      run_handoff(isolated(zero_dir, {"run", "--listen", "127.0.0.1:0", "--h2-max-streams", "0"}));
  CHECK(code != 0);
  CHECK(err.find("--h2-max-streams must be at least 1") != std::string::npos);
  CHECK(count_lines(err) == 1);

  TestBackend taken(TestBackend::respond(""));
  TempDir dir;
  std::tie(code, err) =
      run_handoff(isolated(dir, {"run", "--listen", taken.address(), "--upstream", "127.0.0.1:1"}));
  CHECK(code != 0);
  CHECK(err.find("cannot listen on " + taken.address()) != std::string::npos);
  CHECK(err.find("in use") != std::string::npos);
  CHECK(count_lines(err) == 1);
}

TEST_CASE("help is complete and exits 0") {
  auto [code, err] = run_handoff({"run", "--help"});
  CHECK(code == 0);
  auto [code2, err2] = run_handoff({"frobnicate"});
  CHECK(code2 != 0);
  CHECK(err2.find("unknown command") != std::string::npos);
}

TEST_CASE("the proxy listens on IPv6 loopback and several addresses at once") {
  TestBackend backend(TestBackend::respond("v6"));
  TempDir dir;
  HandoffProcess proxy(isolated(dir, {"run", "--listen", "127.0.0.1:0", "--listen", "[::1]:0",
                                      "--upstream", backend.address(), "--threads", "2"}));
  std::uint16_t port = proxy.wait_listening();
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "v6");
  CHECK(eventually(
      [&] { return proxy.stderr_text().find("listening on [::1]:") != std::string::npos; }));
}

TEST_CASE("SIGTERM lets the request in flight finish, then exits 0") {
  TestBackend backend([](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      std::this_thread::sleep_for(500ms);  // a slow answer
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
    }
  });
  TempDir dir;
  HandoffProcess proxy(
      isolated(dir, {"run", "--listen", "127.0.0.1:0", "--upstream", backend.address()}));
  std::uint16_t port = proxy.wait_listening();
  SocketClient idle(port);  // an idle keep-alive connection must not hold up the exit
  auto slow = std::async(std::launch::async,
                         [&] { return request_once(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); });
  REQUIRE(eventually([&] { return backend.requests().size() == 1; }));  // it is in flight
  proxy.signal(SIGTERM);
  Response r = slow.get();
  CHECK(r.status == 200);
  CHECK(r.body == "done");
  CHECK(r.closed);  // the last response says Connection: close
  CHECK(proxy.wait_exit(10s) == 0);
  CHECK(idle.closed_by_peer());
  CHECK(proxy.stderr_text().find("handoff: stopped") != std::string::npos);
}

TEST_CASE("a 1 GiB upload and a 1 GiB download stream through with bounded memory") {
  constexpr std::size_t kGiB = std::size_t{1} << 30;
  // The backend drains uploads and serves a large body, without buffering either.
  TestBackend backend(TestBackend::bulk(kGiB));
  TempDir dir;
  HandoffProcess proxy(isolated(
      dir, {"run", "--listen", "127.0.0.1:0", "--upstream", backend.address(), "--no-access-log"}));
  std::uint16_t port = proxy.wait_listening();
  long baseline = proxy.rss_kib();

  SocketClient up(port, 60s);
  up.send("PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(kGiB) + "\r\n\r\n");
  std::string block(1 << 20, 'u');
  for (std::size_t sent = 0; sent < kGiB; sent += block.size()) {
    REQUIRE_MESSAGE(up.send(block), "upload failed after " << sent << " bytes: " << up.last_error()
                                                           << "\n"
                                                           << proxy.stderr_text());
  }
  Response put = up.read_response();
  CHECK(put.status == 200);
  CHECK(put.body == std::to_string(kGiB));

  SocketClient down(port, 60s);
  down.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
  Response get = down.read_response_discarding_body();
  CHECK(get.status == 200);
  CHECK(get.body_bytes == kGiB);

  long peak = proxy.peak_rss_kib();
  MESSAGE("RSS baseline " << baseline << " KiB, peak " << peak << " KiB");
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine; the bound is checked in normal builds.
  CHECK(peak < 512 * 1024);
#else
  CHECK(peak < 64 * 1024);
#endif
}
