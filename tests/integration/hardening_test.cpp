// Hostile and broken input: every ambiguous request is refused and never reaches the backend;
// slow, greedy and abusive clients and failing backends do not take the proxy down.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/handoff_process.hpp"
#include "tests/support/proxy_under_test.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/tls_client.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {

struct BadRequest {
  const char* what;
  std::string bytes;
  int status;
};

const std::vector<BadRequest>& bad_requests() {
  static const std::vector<BadRequest> cases = {
      {"Content-Length and Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       400},
      {"Content-Length values that disagree",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400},
      {"Transfer-Encoding not ending in chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
      {"an unknown transfer coding",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"a bad chunk size",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
       400},
      {"a bad chunk extension",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n",
       400},
      {"whitespace before the colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n", 400},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 400},
      {"a control character in a value",
       std::string("GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n\r\n"), 400},
      {"a bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", 400},
      {"an invalid header name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n", 400},
      {"an invalid request target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"a request target that is not a path", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"a header section over the limit",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n", 431},
      {"one header over the limit",
       "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + std::string(17000, 'c') + "\r\n\r\n", 431},
      {"a missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
  };
  return cases;
}

}  // namespace

TEST_CASE("ambiguous and malformed requests are refused, closed and never forwarded") {
  TestBackend backend(TestBackend::respond("forwarded"));
  ProxyUnderTest proxy(backend.address());
  for (const BadRequest& c : bad_requests()) {
    CAPTURE(c.what);
    SocketClient client(proxy.port());
    client.send(c.bytes);
    Response r = client.read_response();
    CHECK(r.status == c.status);
    CHECK(r.header("connection") == "close");
    CHECK(client.closed_by_peer());
  }
  CHECK(backend.requests().empty());
  CHECK(backend.connections() == 0);
  // And the proxy still serves.
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "forwarded");
}

TEST_CASE("a head that can never become valid is refused at once, not at the header timeout") {
  TestBackend backend(TestBackend::respond("forwarded"));
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.client_header_timeout = 60s; });
  for (const char* partial : {
           "GET / HTTP/1.1\r\nHost: a\rX",                           // a CR not followed by LF
           "GET / HTTP/1.1\r\nHost: a\r\nnot a field line\r\n",      // a line that is not a field
           "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n{}",  // a body, no blank line
       }) {
    CAPTURE(partial);
    SocketClient client(proxy.port(), 3s);
    client.send(partial);
    const Response r = client.read_response();  // within 3 s, or status 0
    CHECK(r.status == 400);
    CHECK(client.closed_by_peer(2s));
  }
  CHECK(backend.requests().empty());
}

TEST_CASE("an h2c upgrade is never a tunnel: the backend sees a plain request") {
  // A backend that would switch to any protocol it is offered.
  TestBackend backend([](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      const bool offered = r->has("upgrade");
      if (!c.send(offered ? "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
                            "Upgrade: h2c\r\n\r\n"
                          : "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain") ||
          offered) {
        return;
      }
    }
  });
  ProxyUnderTest proxy(backend.address());
  const Response r = request_once(
      proxy.port(),
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
      "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
  CHECK(r.status == 200);
  CHECK(r.body == "plain");
  const std::vector<BackendRequest> received = backend.requests();  // a copy
  REQUIRE(received.size() == 1);
  const BackendRequest& seen = received[0];
  CHECK_FALSE(seen.has("upgrade"));
  CHECK_FALSE(seen.has("http2-settings"));
  CHECK(seen.header("connection").find("pgrade") == std::string::npos);
}

TEST_CASE("a response's Content-Length list of one value reaches the client as one value") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    while (c.read_request()) {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello");
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const Response r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "hello");
  CHECK(r.head.find("Content-Length: 5\r\n") != std::string::npos);
  CHECK(r.head.find("5, 5") == std::string::npos);
  CHECK_FALSE(r.closed);
}

TEST_CASE("bodies over --max-body get 413, whether announced or chunked") {
  TestBackend backend(TestBackend::respond("ok"));
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.max_body_bytes = 1000; });
  Response announced =
      request_once(proxy.port(), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n" +
                                     std::string(1001, 'x'));
  CHECK(announced.status == 413);
  CHECK(backend.requests().empty());
  SocketClient chunked(proxy.port());
  chunked.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  chunked.send("3e8\r\n" + std::string(1000, 'y') + "\r\n");
  chunked.send("1\r\nz\r\n0\r\n\r\n");
  CHECK(chunked.read_response().status == 413);
  CHECK(request_once(proxy.port(), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" +
                                       std::string(1000, 'x'))
            .status == 200);
}

TEST_CASE("a response with ambiguous framing is a 502, never passed on") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    while (c.read_request()) {
      c.send(
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0\r\n\r\n");
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  Response r = client.read_response();
  CHECK(r.status == 502);
  CHECK(r.closed);
  CHECK(proxy.upstream().in_flight() <= 1);
}

TEST_CASE("a bad chunked response body is never made to look complete") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    while (auto r = c.read_request()) {
      if (r->target == "/late") {
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        std::this_thread::sleep_for(200ms);  // the head and a chunk went out first
        c.send("not-hex\r\n");
      } else {
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n");
      }
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient late(proxy.port());
  late.send("GET /late HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string got = late.read_until_close();
  CHECK(got.find("5\r\nhello\r\n") != std::string::npos);
  CHECK(got.find("0\r\n\r\n") == std::string::npos);  // the connection closed instead

  Response early = request_once(proxy.port(), "GET /early HTTP/1.1\r\nHost: a\r\n\r\n");
  // Bad from the first byte of the body: a 502 (or, if the head went out alone, a close).
  CHECK((early.status == 502 || (early.status == 200 && early.body.empty() && early.closed)));
}

TEST_CASE("1000 slowloris connections are cut at the header timeout while others are served") {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  TestBackend backend(TestBackend::respond("ok"));
  ProxyUnderTest proxy(backend.address(),
                       [](auto& c) { c.client_header_timeout = std::chrono::milliseconds(1500); });
  std::vector<std::unique_ptr<SocketClient>> slow;
  for (int i = 0; i < 1000; ++i) {
    slow.push_back(std::make_unique<SocketClient>(proxy.port(), 3s));
    slow.back()->send("G");
  }
  // Dribble one byte at a time while normal clients are served.
  const auto start = std::chrono::steady_clock::now();
  int served = 0;
  auto worst = std::chrono::steady_clock::duration::zero();
  while (std::chrono::steady_clock::now() - start < 1200ms) {
    for (auto& s : slow) {
      s->send("E");
    }
    const auto t = std::chrono::steady_clock::now();
    served += request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200;
    worst = std::max(worst, std::chrono::steady_clock::now() - t);
    std::this_thread::sleep_for(100ms);
  }
  MESSAGE("normal requests served: " << served << ", slowest: "
                                     << std::chrono::duration<double, std::milli>(worst).count()
                                     << " ms");
  CHECK(served >= 5);
  CHECK(worst < 500ms);
  std::this_thread::sleep_for(1000ms);
  // Each was answered 408 and closed; reading one that is still open would wait out the
  // client's timeout, so a first sample decides whether to look at the others.
  auto cut_off = [](SocketClient& s) {
    return s.read_until_close().find("408 Request Timeout") != std::string::npos;
  };
  REQUIRE(cut_off(*slow.front()));
  int cut = 1;
  for (std::size_t i = 1; i < slow.size(); ++i) {
    cut += cut_off(*slow[i]) ? 1 : 0;
  }
  CHECK(cut == 1000);
  CHECK(backend.requests().size() == static_cast<std::size_t>(served));
}

TEST_CASE("connections over --max-connections get a clean 503 (over TLS: are closed)") {
  TestBackend backend(TestBackend::respond("ok"));
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.max_connections = 5; });
  std::vector<std::unique_ptr<SocketClient>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<SocketClient>(proxy.port()));
    held.back()->send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(held.back()->read_response().status == 200);
  }
  if (tls_mode()) {
    CHECK_THROWS(SocketClient(proxy.port()));  // closed before the handshake
  } else {
    SocketClient extra(proxy.port());
    Response r = extra.read_response();
    CHECK(r.status == 503);
    CHECK(r.body.find("too many connections") != std::string::npos);
  }
  held.pop_back();
  // The proxy has seen that client leave (and the refused one): a place is free again.
  REQUIRE(eventually([&] { return proxy.server().connections() < 5; }));
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200);
}

TEST_CASE("running out of file descriptors backs off instead of spinning") {
  TestBackend backend(TestBackend::respond("ok"));
  TempDir dir;
  // A descriptor limit so low that a few dozen connections exhaust it.
  HandoffProcess proxy({"run", "--listen", "127.0.0.1:0", "--upstream", backend.address(),
                        "--no-access-log", "--control", (dir.path() / "c.sock").string(),
                        "--state-dir", (dir.path() / "state").string()},
                       false, 48);
  const std::uint16_t port = proxy.wait_listening();
  std::vector<std::unique_ptr<SocketClient>> flood;
  for (int i = 0; i < 80; ++i) {
    flood.push_back(std::make_unique<SocketClient>(port, 500ms));
  }
  std::this_thread::sleep_for(300ms);
  const double cpu_before = proxy.cpu_seconds();
  std::this_thread::sleep_for(1000ms);
  const double cpu_used = proxy.cpu_seconds() - cpu_before;
  MESSAGE("CPU while out of descriptors: " << cpu_used << " s per s");
  CHECK(cpu_used < 0.3);
  CHECK(proxy.stderr_text().find("pausing accepts") != std::string::npos);
  flood.clear();
  std::this_thread::sleep_for(500ms);
  CHECK(request_once(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 200);
}

TEST_CASE("a client that stops reading a large response does not grow the proxy's memory") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    if (c.read_request()) {
      const std::size_t total = std::size_t{256} << 20;
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
      std::string block(1 << 20, 'b');
      for (std::size_t sent = 0; sent < total && c.send(block); sent += block.size()) {
      }
    }
  });
  TempDir dir;
  HandoffProcess proxy({"run", "--listen", "127.0.0.1:0", "--upstream", backend.address(),
                        "--no-access-log", "--control", (dir.path() / "c.sock").string(),
                        "--state-dir", (dir.path() / "state").string()});
  const std::uint16_t port = proxy.wait_listening();
  const long before = proxy.rss_kib();
  SocketClient lazy(port, 5s);
  lazy.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
  lazy.read_exact(100);  // it reads a little, then nothing more
  std::this_thread::sleep_for(2s);
  const long after = proxy.rss_kib();
  MESSAGE("RSS " << before << " KiB -> " << after << " KiB with a stalled 256 MiB response");
  CHECK(after - before < 16 * 1024);
}

TEST_CASE("the control socket checks its peer's credentials") {
  TestBackend backend(TestBackend::respond("ok"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address()});
  // Loosen the socket's own protection: the credential check must still refuse strangers.
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
  ::chmod(proxy.control().c_str(), 0666);
  auto [code, out] = shell(
      "runuser -u nobody -- curl -s -o /dev/null -w '%{http_code}' "
      "--unix-socket " +
      proxy.control() + " http://handoff/v1/status");
  CHECK(out == "403");
  auto [root_code, root_out] = shell("curl -s -o /dev/null -w '%{http_code}' --unix-socket " +
                                     proxy.control() + " http://handoff/v1/status");
  CHECK(root_out == "200");
}
