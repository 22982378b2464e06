#include "proxy/http/forward_headers.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace handoff::proxy;

namespace {
MessageHead request(std::string_view raw) {
  MessageHead head;
  REQUIRE(parse_request_head(raw, 16384, head).state == ParseStatus::complete);
  return head;
}
MessageHead response(std::string_view raw, std::string_view method = "GET") {
  MessageHead head;
  REQUIRE(parse_response_head(raw, 16384, method, head).state == ParseStatus::complete);
  return head;
}
}  // namespace

TEST_CASE("the forwarded request drops hop-by-hop fields and adds forwarding fields") {
  std::string raw =
      "POST /p HTTP/1.1\r\nHost: app.example\r\nConnection: keep-alive, X-Secret\r\n"
      "Keep-Alive: timeout=5\r\nX-Secret: s\r\nTE: trailers\r\nProxy-Connection: x\r\n"
      "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nVia: 1.1 edge\r\n"
      "Content-Length: 3\r\nAccept: */*\r\n\r\n";
  MessageHead head = request(raw);
  std::string out;
  std::string_view id = build_upstream_request(head, {"127.0.0.1", "abc"}, out);
  CHECK(id == "abc");
  CHECK(out ==
        "POST /p HTTP/1.1\r\nHost: app.example\r\nAccept: */*\r\nContent-Length: 3\r\n"
        "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: app.example\r\nVia: 1.1 edge, 1.1 handoff\r\nX-Request-Id: abc\r\n\r\n");
}

TEST_CASE("an existing request id is kept and Expect 100-continue is not forwarded") {
  MessageHead head = request(
      "PUT / HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\nExpect: 100-continue\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  std::string out;
  CHECK(build_upstream_request(head, {"::1", "new"}, out) == "mine");
  CHECK(out.find("Expect") == std::string::npos);
  CHECK(out.find("X-Request-Id: mine\r\n") != std::string::npos);
  CHECK(out.find("X-Request-Id: new") == std::string::npos);
  CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
}

TEST_CASE("an upgrade request keeps Connection: upgrade and Upgrade") {
  MessageHead head = request(
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: k\r\n\r\n");
  std::string out;
  build_upstream_request(head, {"127.0.0.1", "id"}, out);
  CHECK(out.find("Connection: upgrade\r\nUpgrade: websocket\r\n") != std::string::npos);
  CHECK(out.find("Sec-WebSocket-Key: k\r\n") != std::string::npos);
}

TEST_CASE("the client response drops hop-by-hop fields and states the connection") {
  MessageHead head = response(
      "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: 1\r\nKeep-Alive: timeout=5\r\n"
      "Content-Length: 2\r\nServer: app\r\n\r\n");
  std::string out;
  build_client_response(head, {}, out);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: app\r\nVia: 1.1 handoff\r\n\r\n");
  out.clear();
  build_client_response(head, {.close = true}, out);
  CHECK(out.ends_with("Connection: close\r\n\r\n"));
}

TEST_CASE("a chunked response keeps its Transfer-Encoding unless it is unchunked") {
  MessageHead head = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string out;
  build_client_response(head, {}, out);
  CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  out.clear();
  build_client_response(head, {.close = true, .dechunk = true}, out);
  CHECK(out.find("Transfer-Encoding") == std::string::npos);
}

TEST_CASE("proxy-made responses are complete and short") {
  std::string r = make_plain_response(502, "handoff: upstream down", true);
  CHECK(r ==
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 23\r\nConnection: close\r\n\r\nhandoff: upstream down\n");
}

TEST_CASE("an absolute-form target is forwarded in origin-form with its authority as Host") {
  MessageHead head =
      request("GET http://abs.example:81/p?q=1 HTTP/1.1\r\nHost: other.example\r\nA: 1\r\n\r\n");
  std::string out;
  build_upstream_request(head, {"127.0.0.1", "id"}, out);
  CHECK(out ==
        "GET /p?q=1 HTTP/1.1\r\nHost: abs.example:81\r\nA: 1\r\nX-Forwarded-For: 127.0.0.1\r\n"
        "X-Forwarded-Proto: http\r\nX-Forwarded-Host: abs.example:81\r\nVia: 1.1 handoff\r\n"
        "X-Request-Id: id\r\n\r\n");
  out.clear();
  build_upstream_request(request("GET https://h?x HTTP/1.1\r\nHost: h\r\n\r\n"), {"c", "i"}, out);
  CHECK(out.rfind("GET /?x HTTP/1.1\r\nHost: h\r\n", 0) == 0);
}

TEST_CASE("an h2c upgrade is not forwarded: neither its Upgrade nor its settings") {
  MessageHead head = request(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
      "HTTP2-Settings: AAMAAABkAAQAAP__\r\nAccept: */*\r\n\r\n");
  std::string out;
  build_upstream_request(head, {"127.0.0.1", "id"}, out);
  CHECK(out.find("Upgrade") == std::string::npos);
  CHECK(out.find("upgrade") == std::string::npos);
  CHECK(out.find("HTTP2-Settings") == std::string::npos);
  CHECK(out.find("Accept: */*\r\n") != std::string::npos);
  out.clear();
  // Settings a client forgot to name in Connection are not forwarded either.
  build_upstream_request(request("GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: x\r\n\r\n"),
                         {"127.0.0.1", "id"}, out);
  CHECK(out.find("HTTP2-Settings") == std::string::npos);
}

TEST_CASE("a response's list of identical Content-Length values goes on as one value") {
  MessageHead head =
      response("HTTP/1.1 200 OK\r\nServer: a\r\nContent-Length: 5, 5\r\nX: y\r\n\r\n");
  std::string out;
  build_client_response(head, {}, out);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nServer: a\r\nContent-Length: 5\r\nX: y\r\nVia: 1.1 handoff\r\n\r\n");
  FieldBlock block;
  build_h2_response(head, {}, block, {});
  bool found = false;
  for (std::size_t i = 0; i < block.size(); ++i) {
    if (block.name(i) == "content-length") {
      CHECK(block.value(i) == "5");
      found = true;
    }
  }
  CHECK(found);
  MessageHead differing;
  CHECK(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 16384, "GET",
                            differing)
            .error_status == 502);
}
