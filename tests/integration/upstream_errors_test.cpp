// What clients get when the upstream fails, and that the proxy keeps serving afterwards.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tests/support/eventually.hpp"
#include "tests/support/proxy_under_test.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"

using namespace handoff::test;

namespace {
// Waits up to a second for the upstream's in-flight count to return to zero: the proxy releases
// it just after the client has its answer.
bool settles_to_zero(const handoff::proxy::Upstream& up) {
  eventually([&] { return up.in_flight() == 0; }, std::chrono::seconds(1));
  return up.in_flight() == 0;
}

// Answers one request per connection, then closes without saying Connection: close, so the
// proxy's pooled connection goes stale.
void answers_once_then_closes(BackendConnection& c, TestBackend& self) {
  if (auto r = c.read_request()) {
    self.record(*r);
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  }
}

// Answers the first request on each connection; reads the second and closes without an answer,
// as an upstream whose idle timeout fires just as a pooled connection is reused.
void drops_the_second_request(BackendConnection& c, TestBackend& self) {
  if (auto r = c.read_request()) {
    self.record(*r);
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  }
  if (auto r = c.read_request()) {
    self.record(*r);
  }
}

// A loopback port with nothing listening on it.
std::string closed_port_address() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}
}  // namespace

TEST_CASE("a refused upstream connection is a 502 and the proxy keeps serving") {
  ProxyUnderTest proxy(closed_port_address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  Response r = client.read_response();
  CHECK(r.status == 502);
  CHECK(r.header("content-type").find("text/plain") == 0);
  CHECK(r.body.find("cannot connect") != std::string::npos);
  // The client connection survives a 502 for a request without a body.
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().status == 502);

  TestBackend backend(TestBackend::respond("back"));
  proxy.swap_to(backend.address());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().body == "back");
}

TEST_CASE("an upstream that never answers is a 504 at the response timeout") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    c.read_request();
    c.read_some();  // hold the connection open without answering
  });
  ProxyUnderTest proxy(backend.address(), [](auto& c) {
    c.upstream_response_timeout = std::chrono::milliseconds(300);
  });
  auto start = std::chrono::steady_clock::now();
  Response r = request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == 504);
  CHECK(took >= std::chrono::milliseconds(300));
  CHECK(took < std::chrono::seconds(3));
  CHECK(settles_to_zero(proxy.upstream()));
}

TEST_CASE("an upstream reset before the response is a 502") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    c.read_request();
    c.reset();
  });
  ProxyUnderTest proxy(backend.address());
  CHECK(request_once(proxy.port(), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx")
            .status == 502);
}

TEST_CASE("an upstream that closes mid-body makes the proxy close the client connection") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    c.read_request();
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string got = client.read_until_close();
  CHECK(got.find("Content-Length: 100") != std::string::npos);
  CHECK(got.ends_with("only part"));  // truncated, and the close tells the client so
  CHECK(settles_to_zero(proxy.upstream()));
}

TEST_CASE("garbage from the upstream is a 502") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    c.read_request();
    c.send("SSH-2.0-OpenSSH\r\n\r\n");
  });
  ProxyUnderTest proxy(backend.address());
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").status == 502);
}

TEST_CASE("a pooled connection the upstream closed while idle is retried on a fresh one") {
  TestBackend backend(answers_once_then_closes);
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  SocketClient client(proxy.port());
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // let the close arrive
    client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    Response r = client.read_response();
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
  }
  CHECK(backend.requests().size() == 4);
  CHECK(backend.connections() >= 4);
}

TEST_CASE("a non-idempotent request is not replayed on a stale connection") {
  TestBackend backend(drops_the_second_request);
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().status == 200);
  client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx");
  CHECK(client.read_response().status == 502);
  CHECK(backend.requests().size() == 2);  // the POST reached the backend once, never twice
}

TEST_CASE("an idempotent request dropped by a pooled connection is retried on a fresh one") {
  TestBackend backend(drops_the_second_request);
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  SocketClient client(proxy.port());
  client.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().status == 200);
  client.send("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().status == 200);
  auto seen = backend.requests();
  REQUIRE(seen.size() == 3);
  CHECK(seen[1].target == "/2");
  CHECK(seen[2].target == "/2");
  CHECK(backend.connections() == 2);
}

// A body that came whole with its head is part of that request, even when the request is
// answered by the proxy's own 502 on a connection that stays open: it must never be read as a
// request of its own.
TEST_CASE("a request body answered with a 502 is never read as the next request") {
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string post =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(smuggled.size()) +
      "\r\n\r\n" + smuggled;
  TestBackend recorder(TestBackend::respond("back"));

  // Sends the POST through a proxy in front of `upstream`, expects the 502, then (when the
  // connection stays open) a next request, which must be answered as itself.
  const auto post_then_next = [&](const std::string& upstream) {
    ProxyUnderTest proxy(upstream);
    SocketClient client(proxy.port());
    client.send(post);
    CHECK(client.read_response().status == 502);
    proxy.swap_to(recorder.address());
    if (!client.closed_by_peer(std::chrono::milliseconds(300))) {
      client.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
      CHECK(client.read_response().body == "back");
    }
  };

  SUBCASE("the upstream refuses the connection") {
    post_then_next(closed_port_address());
  }
  SUBCASE("the upstream closes without an answer") {
    TestBackend closes([](BackendConnection& c, TestBackend& self) {
      if (auto r = c.read_request()) {
        self.record(*r);
      }
    });
    post_then_next(closes.address());
    REQUIRE(closes.requests().size() == 1);
    CHECK(closes.requests()[0].body == smuggled);
  }
  for (const auto& seen : recorder.requests()) {
    CHECK(seen.target != "/smuggled");
  }
}
