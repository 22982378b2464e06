#include "proxy/http/http_head.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace handoff::proxy;

namespace {
ParseResult parse(std::string_view raw, MessageHead& head, std::size_t limit = 16384) {
  return parse_request_head(raw, limit, head);
}
int status_of(std::string_view raw) {
  MessageHead head;
  ParseResult r = parse(raw, head);
  return r.state == ParseStatus::error ? r.error_status
                                       : (r.state == ParseStatus::complete ? 0 : -1);
}
}  // namespace

TEST_CASE("a simple request parses with its fields and framing") {
  MessageHead head;
  std::string_view raw = "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-A:  v  \r\n\r\nrest";
  ParseResult r = parse(raw, head);
  REQUIRE(r.state == ParseStatus::complete);
  CHECK(r.head_bytes == raw.size() - 4);
  CHECK(head.method == "GET");
  CHECK(head.target == "/a?b=c");
  CHECK(head.version_minor == 1);
  CHECK(head.host == "example.com");
  REQUIRE(head.header_count == 2);
  CHECK(head.headers[1].name == "X-A");
  CHECK(head.headers[1].value == "v");
  CHECK(head.body == BodyKind::none);
}

TEST_CASE("an incomplete head asks for more bytes") {
  MessageHead head;
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n", head).state == ParseStatus::incomplete);
}

TEST_CASE("leading empty lines before the request line are ignored") {
  CHECK(status_of("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
}

TEST_CASE("body framing is derived from Content-Length and Transfer-Encoding") {
  MessageHead head;
  REQUIRE(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", head).state ==
          ParseStatus::complete);
  CHECK(head.body == BodyKind::length);
  CHECK(head.content_length == 5);
  REQUIRE(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", head).state ==
          ParseStatus::complete);
  CHECK(head.body == BodyKind::chunked);
  REQUIRE(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n", head).state ==
          ParseStatus::complete);
  CHECK(head.content_length == 7);
}

TEST_CASE("ambiguous or malformed requests are refused with the right status") {
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") ==
        400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
  CHECK(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX\x7f: a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
  CHECK(status_of("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET nope HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
  CHECK(status_of("GET / JUNK/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n") == 405);
  CHECK(status_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
  CHECK(status_of("GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
}

TEST_CASE("a head over the limit is 431, complete or not") {
  MessageHead head;
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'x') + "\r\n\r\n";
  CHECK(parse(big, head, 1024).error_status == 431);
  CHECK(parse(big.substr(0, 1500), head, 1024).error_status == 431);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 101; ++i) {
    many += "X: y\r\n";
  }
  CHECK(parse(many + "\r\n", head).error_status == 431);
}

TEST_CASE("connection options are recognised case-insensitively") {
  MessageHead head;
  REQUIRE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, UPGRADE\r\n"
                "Upgrade: websocket\r\nExpect: 100-Continue\r\n\r\n",
                head)
              .state == ParseStatus::complete);
  CHECK(head.connection_keep_alive);
  CHECK(head.connection_upgrade);
  CHECK(head.websocket_upgrade);
  CHECK(head.expect_continue);
  CHECK_FALSE(head.connection_close);
}

TEST_CASE("response framing follows RFC 9112 section 6.3") {
  MessageHead head;
  auto body_of = [&](std::string_view raw, std::string_view method = "GET") {
    ParseResult r = parse_response_head(raw, 16384, method, head);
    REQUIRE(r.state == ParseStatus::complete);
    return head.body;
  };
  CHECK(body_of("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n") == BodyKind::length);
  CHECK(body_of("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "HEAD") == BodyKind::none);
  CHECK(body_of("HTTP/1.1 204 No Content\r\n\r\n") == BodyKind::none);
  CHECK(body_of("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n") == BodyKind::none);
  CHECK(body_of("HTTP/1.1 100 Continue\r\n\r\n") == BodyKind::none);
  CHECK(body_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == BodyKind::chunked);
  CHECK(body_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") == BodyKind::until_close);
  CHECK(body_of("HTTP/1.1 200 OK\r\n\r\n") == BodyKind::until_close);
  CHECK(body_of("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") == BodyKind::none);
  CHECK(head.status == 200);
  CHECK(body_of("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n") == BodyKind::length);
  CHECK(head.connection_close);
}

TEST_CASE("ambiguous responses are refused as 502") {
  MessageHead head;
  auto status = [&](std::string_view raw) {
    return parse_response_head(raw, 16384, "GET", head).error_status;
  };
  CHECK(status("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        502);
  CHECK(status("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == 502);
  CHECK(status("HTTP/1.1 2000 OK\r\n\r\n") == 502);
  CHECK(status("garbage\r\n\r\n") == 502);
  CHECK(status("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n") == 502);
}

TEST_CASE("Host values must be host[:port]") {
  for (std::string_view good :
       {"", "x", "x:80", "x:", "a-b.c_d~e", "[::1]", "[::1]:8080", "127.0.0.1:9", "%41.example"}) {
    CHECK_MESSAGE(valid_host(good), good);
  }
  for (std::string_view bad : {"x/evil", "x, y", "x,y", "a b", "u@x", "x:8a", "x:123456", "[::1",
                               "[zz]", "x\\y", "x?y", "x#y", "[::1]x"}) {
    CHECK_FALSE_MESSAGE(valid_host(bad), bad);
  }
}

TEST_CASE("an absolute-form target's authority replaces Host") {
  MessageHead head;
  auto r = parse_request_head("GET http://abs.example/abs?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
                              16384, head);
  REQUIRE(r.state == ParseStatus::complete);
  CHECK(head.host == "abs.example");
  CHECK(head.target == "/abs?q=1");
  for (std::string_view bad :
       {"GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n", "GET http:///p HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://x/ HTTP/1.1\r\n\r\n"}) {
    CHECK_MESSAGE(parse_request_head(bad, 16384, head).error_status == 400, bad);
  }
}

TEST_CASE("a bare LF is refused before the head is complete") {
  MessageHead head;
  for (std::string_view partial : {"GET / HTTP/1.1\nHost", "GET / HTTP/1.1\r\nHost: x\n"}) {
    CHECK_MESSAGE(parse_request_head(partial, 16384, head).state == ParseStatus::error, partial);
  }
  CHECK(parse_request_head("GET / HTTP/1.1\r\nHost: x\r\n", 16384, head).state ==
        ParseStatus::incomplete);
}

TEST_CASE("an incomplete head that can never become valid is refused at once") {
  MessageHead head;
  for (std::string_view partial : {
           "GET / HTTP/1.1\r\nHost: x\rY",                  // a CR not followed by LF
           "GET / HTTP/1.1\r\nHost: x\r\nnot a field\r\n",  // a line that is not a field
           "GET / HTTP/1.1\r\nHost: x\r\n{\"json\": 1}",    // a body before the blank line
           "GET / HTTP/1.1\r\nHost: x\r\n folded",          // obsolete line folding
           "GET / HTTP/1.1\r\nHost: x\r\nA: \x01",          // a control byte
           "GET / HTTP/1.1\r\nBad Name: x\r\n",             // a space in a field name
           "GET / HTTP/1.1 extra\r\nHost: x\r\n",           // a malformed request line
           "G(T /",                                         // a method that is no token
       }) {
    const ParseResult r = parse_request_head(partial, 16384, head);
    CHECK_MESSAGE(r.state == ParseStatus::error, partial);
    CHECK_MESSAGE(r.error_status == 400, partial);
  }
  for (std::string_view growing : {"GET / HTTP/1.1\r\nHost: x\r", "GET / HTTP/1.1\r\nX-A",
                                   "GET / HTTP/1.1\r\nX-A: b c\t", "GE", "GET /a b"}) {
    CHECK_MESSAGE(parse_request_head(growing, 16384, head).state == ParseStatus::incomplete,
                  growing);
  }
  std::string many = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i <= kMaxHeaders; ++i) {
    many += "A: b\r\n";
  }
  CHECK(parse_request_head(many, 16384, head).error_status == 431);
}

TEST_CASE("only a WebSocket upgrade is an upgrade") {
  MessageHead head;
  REQUIRE(parse_request_head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                             "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
                             16384, head)
              .state == ParseStatus::complete);
  CHECK(head.connection_upgrade);
  CHECK_FALSE(head.websocket_upgrade);
  REQUIRE(parse_request_head("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
                             "Upgrade: h2c, WebSocket\r\n\r\n",
                             16384, head)
              .state == ParseStatus::complete);
  CHECK(head.websocket_upgrade);
}
