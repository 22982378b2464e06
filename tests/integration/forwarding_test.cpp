// The relay as clients and backends see it: real sockets on 127.0.0.1.
#include <doctest/doctest.h>

#include <cstdio>
#include <thread>

#include "tests/support/proxy_under_test.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/tls_client.hpp"

using namespace handoff::test;

TEST_CASE("keep-alive requests reuse one client and one upstream connection") {
  TestBackend backend(TestBackend::respond("hello"));
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  SocketClient client(proxy.port());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(client.send("GET /n HTTP/1.1\r\nHost: a\r\n\r\n"));
    Response r = client.read_response();
    CHECK(r.status == 200);
    CHECK(r.body == "hello");
    CHECK_FALSE(r.closed);
  }
  CHECK(backend.connections() == 1);
  CHECK(backend.requests().size() == 5);
}

TEST_CASE("the backend sees forwarding fields and no hop-by-hop fields") {
  TestBackend backend(TestBackend::respond("ok"));
  ProxyUnderTest proxy(backend.address());
  Response r = request_once(proxy.port(),
                            "GET /x HTTP/1.1\r\nHost: shop.test\r\nConnection: X-Hop\r\n"
                            "X-Hop: 1\r\nKeep-Alive: 5\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n");
  CHECK(r.status == 200);
  CHECK(r.header("via") == "1.1 handoff");
  auto reqs = backend.requests();
  REQUIRE(reqs.size() == 1);
  const BackendRequest& seen = reqs[0];
  CHECK(seen.target == "/x");
  CHECK(seen.header("host") == "shop.test");
  CHECK_FALSE(seen.has("x-hop"));
  CHECK_FALSE(seen.has("keep-alive"));
  CHECK_FALSE(seen.has("connection"));
  CHECK(seen.header("x-forwarded-for") == "10.1.1.1, 127.0.0.1");
  CHECK(seen.header("x-forwarded-proto") == (tls_mode() ? "https" : "http"));
  CHECK(seen.header("x-forwarded-host") == "shop.test");
  CHECK(seen.header("via") == "1.1 handoff");
  CHECK(seen.header("x-request-id").size() == 32);
}

TEST_CASE("chunked bodies stream both ways, trailers included") {
  TestBackend backend([](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\necho\r\n");
      char size[20];
      std::snprintf(size, sizeof size, "%zx\r\n", r->body.size());
      c.send(size + r->body + "\r\n");
      c.send("0\r\nX-Trailer: yes\r\n\r\n");
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.send("5\r\nhello\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  client.send("6;ext=1\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n");
  Response r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "echohello world");
  auto reqs = backend.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].body == "hello world");
  // Re-framed by the proxy: the extension is checked, then left out.
  CHECK(reqs[0].raw_body == "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n");
  // The connection stays usable after a chunked exchange.
  client.send("POST /again HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  CHECK(client.read_response().body == "echohi");
}

TEST_CASE("pipelined requests are answered in order") {
  TestBackend backend([](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      std::string body = "you asked for " + r->target;
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
             body);
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send(
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"
      "abcGET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().body == "you asked for /1");
  CHECK(client.read_response().body == "you asked for /2");
  CHECK(client.read_response().body == "you asked for /3");
}

TEST_CASE("HEAD, 204 and 304 responses carry no body and keep the connection") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    while (auto r = c.read_request()) {
      if (r->target == "/head") {
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
      } else if (r->target == "/204") {
        c.send("HTTP/1.1 204 No Content\r\n\r\n");
      } else {
        c.send("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n");
      }
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n");
  Response head = client.read_response("HEAD");
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == "100");
  client.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().status == 204);
  client.send("GET /304 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().status == 304);
  client.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().status == 204);
}

TEST_CASE("Expect: 100-continue gets a 100 before the body is sent") {
  TestBackend backend(TestBackend::respond("got it"));
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  Response interim = client.read_response();
  CHECK(interim.status == 100);
  client.send("data");
  Response r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "got it");
  auto reqs = backend.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].body == "data");
  CHECK_FALSE(reqs[0].has("expect"));
}

TEST_CASE("interim 1xx responses from the backend reach the client before the final one") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    while (auto r = c.read_request()) {
      c.send("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n");
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  Response hints = client.read_response();
  CHECK(hints.status == 103);
  CHECK(hints.header("link") == "</s.css>; rel=preload");
  Response r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
}

TEST_CASE("an HTTP/1.0 client gets a chunked response without chunked framing") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    while (auto r = c.read_request()) {
      c.send(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.0\r\n\r\n");
  std::string all = client.read_until_close();
  CHECK(all.find("Transfer-Encoding") == std::string::npos);
  CHECK(all.ends_with("\r\n\r\nabcde"));
}

TEST_CASE("a response delimited by close is relayed whole and then the client is closed") {
  TestBackend backend([](BackendConnection& c, TestBackend&) {
    if (c.read_request()) {
      c.send("HTTP/1.1 200 OK\r\n\r\npart one, ");
      c.send("part two");
    }
  });
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  Response r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "part one, part two");
  CHECK(r.closed);
}

TEST_CASE("malformed requests get 400 and are never forwarded") {
  TestBackend backend(TestBackend::respond("no"));
  ProxyUnderTest proxy(backend.address());
  SocketClient client(proxy.port());
  client.send(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n");
  Response r = client.read_response();
  CHECK(r.status == 400);
  CHECK(r.closed);
  CHECK(client.closed_by_peer());
  CHECK(backend.requests().empty());
}
