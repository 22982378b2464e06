// Upgrade: after the upstream's 101 the connection is a two-way byte tunnel.
#include <doctest/doctest.h>

#include "tests/support/proxy_under_test.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"

using namespace handoff::test;

namespace {
constexpr auto websocket_echo = &TestBackend::websocket_echo;

const std::string kHandshake =
    "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}  // namespace

TEST_CASE("a WebSocket echo works through the proxy") {
  TestBackend backend(websocket_echo);
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send(kHandshake);
  Response r = client.read_response();
  REQUIRE(r.status == 101);
  CHECK(r.header("upgrade") == "websocket");
  CHECK(r.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  // A masked text frame "hello" (RFC 6455 §5.7), echoed back byte for byte.
  const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
  for (int i = 0; i < 3; ++i) {
    client.send(frame);
    CHECK(client.read_exact(frame.size()) == frame);
  }
  auto reqs = backend.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].header("upgrade") == "websocket");
  CHECK(reqs[0].header("sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==");
  client.shutdown_send();
  CHECK(client.closed_by_peer());
}

TEST_CASE("a drain closes a tunnel still open on the old upstream at its timeout") {
  TestBackend old_backend(websocket_echo);
  TestBackend new_backend(TestBackend::respond("new"));
  ProxyUnderTest proxy(old_backend.address());
  SocketClient ws(proxy.port());
  ws.send(kHandshake);
  REQUIRE(ws.read_response().status == 101);
  auto old = proxy.swap_to(new_backend.address());
  REQUIRE(old.size() == 1);
  CHECK(old.front()->in_flight() == 1);
  auto result = proxy.server().drain(old, std::chrono::milliseconds(200));
  CHECK_FALSE(result.clean);
  CHECK(result.closed == 1);
  CHECK(old.front()->in_flight() == 0);
  // The client is told why, in WebSocket terms: a close frame, status 1001 (going away).
  CHECK(ws.read_until_close() == std::string("\x88\x02\x03\xe9", 4));
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "new");
}

TEST_CASE("a tunnel closed in the middle of an upstream frame gets no close frame of the proxy's") {
  TestBackend half_frame([](BackendConnection& c, TestBackend&) {
    if (!c.read_request()) {
      return;
    }
    c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    c.send(std::string("\x81\x05he", 4));  // a text frame of 5 bytes, 2 of them sent
    c.read_some();                         // until the proxy closes
  });
  TestBackend new_backend(TestBackend::respond("new"));
  ProxyUnderTest proxy(half_frame.address());
  SocketClient ws(proxy.port());
  ws.send(kHandshake);
  REQUIRE(ws.read_response().status == 101);
  CHECK(ws.read_exact(4) == std::string("\x81\x05he", 4));
  auto old = proxy.swap_to(new_backend.address());
  CHECK(proxy.server().drain(old, std::chrono::milliseconds(200)).closed == 1);
  CHECK(ws.read_until_close().empty());  // a frame of its own here would corrupt the stream
}
