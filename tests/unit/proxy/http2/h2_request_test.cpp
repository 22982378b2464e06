#include "proxy/http2/h2_request.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/http/forward_headers.hpp"
#include "proxy/http/http_head.hpp"

using namespace handoff::proxy;

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

const Fields kGet = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "app.test"}, {":path", "/p?q=1"}};

Fields plus(Fields a, const Fields& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The verdict for `fields`, and the head written when it goes on.
std::pair<H2RequestVerdict, std::string> map(const Fields& fields, bool has_body = false) {
  H2RequestHead gather(16 * 1024);
  for (const auto& [name, value] : fields) {
    gather.add(name, value);
  }
  std::string head;
  const H2RequestVerdict verdict = gather.finish(has_body, head);
  return {verdict, head};
}

}  // namespace

TEST_CASE("an HTTP/2 request becomes an HTTP/1.1 head: Host from :authority, cookies joined") {
  const auto [verdict, head] = map(plus(kGet, {{"cookie", "a=1"},
                                               {"accept", "*/*"},
                                               {"cookie", "b=2"},
                                               {"host", "other.test"},
                                               {"te", "trailers"}}));
  REQUIRE(verdict.refusal == 0);
  CHECK(head ==
        "GET /p?q=1 HTTP/1.1\r\nHost: app.test\r\naccept: */*\r\nte: trailers\r\n"
        "cookie: a=1; b=2\r\n\r\n");
  MessageHead parsed;
  CHECK(parse_request_head(head, head.size(), parsed).state == ParseStatus::complete);
  CHECK(parsed.host == "app.test");
}

TEST_CASE("host stands in for a missing :authority, a body without a length goes chunked") {
  const auto [verdict, head] =
      map({{":method", "POST"}, {":scheme", "http"}, {":path", "/u"}, {"host", "h.test"}}, true);
  REQUIRE(verdict.refusal == 0);
  CHECK(head == "POST /u HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\n\r\n");
  const auto [v2, with_length] = map(plus(kGet, {{"content-length", "5"}}), true);
  CHECK(with_length.find("Transfer-Encoding") == std::string::npos);
  CHECK(with_length.find("content-length: 5\r\n") != std::string::npos);
}

TEST_CASE("malformed HTTP/2 requests are stream errors (RFC 9113 §8.2-8.3)") {
  const std::vector<Fields> malformed = {
      plus(kGet, {{"connection", "close"}}),
      plus(kGet, {{"keep-alive", "5"}}),
      plus(kGet, {{"proxy-connection", "x"}}),
      plus(kGet, {{"transfer-encoding", "chunked"}}),
      plus(kGet, {{"upgrade", "h2c"}}),
      plus(kGet, {{"te", "gzip"}}),
      plus(kGet, {{"X-Upper", "1"}}),
      plus(kGet, {{"x-a", "1\r\nx-b: 2"}}),
      plus(kGet, {{"x-a", " padded"}}),
      plus(kGet, {{"x-a", std::string("nul\0x", 5)}}),
      plus({{"x-a", "1"}}, kGet),                  // a pseudo-header after a regular field
      plus(kGet, {{":method", "POST"}}),           // repeated
      plus(kGet, {{":protocol", "websocket"}}),    // extended CONNECT is not offered
      {{":method", "GET"}, {":scheme", "https"}},  // no :path
      {{":scheme", "https"}, {":path", "/"}},      // no :method
  };
  for (const Fields& fields : malformed) {
    CAPTURE(fields.back().first);
    CHECK(map(fields).first.refusal == -1);
  }
}

TEST_CASE("limits: too many or too large fields are refused with 431, CONNECT with 405") {
  Fields many = kGet;
  for (int i = 0; i < 101; ++i) {
    many.push_back({"x-f" + std::to_string(i), "v"});
  }
  CHECK(map(many).first.refusal == 431);
  CHECK(map(plus(kGet, {{"x-big", std::string(17 * 1024, 'b')}})).first.refusal == 431);
  CHECK(map({{":method", "CONNECT"}, {":authority", "a:443"}}).first.refusal == 405);
  // The bomb: once over the limit, nothing more is kept however much follows.
  H2RequestHead gather(16 * 1024);
  for (const auto& [n, v] : kGet) {
    gather.add(n, v);
  }
  const std::string big(4000, 'b');
  for (int i = 0; i < 10000; ++i) {
    gather.add("x-bomb", big);
  }
  std::string head;
  CHECK(gather.finish(false, head).refusal == 431);
  CHECK(head.empty());
}

TEST_CASE("request trailers end a chunked body, framing and routing fields are not trailers") {
  H2RequestHead gather(16 * 1024);
  CHECK(gather.add_trailer("x-checksum", "abc"));
  CHECK_FALSE(gather.add_trailer("content-length", "5"));
  CHECK_FALSE(gather.add_trailer("host", "evil"));
  CHECK_FALSE(gather.add_trailer(":path", "/"));
  CHECK_FALSE(gather.add_trailer("X-Upper", "1"));
  CHECK(gather.last_chunk() == "0\r\nx-checksum: abc\r\n\r\n");
}

TEST_CASE("an HTTP/2 response drops connection-specific fields and lower-cases names") {
  MessageHead resp;
  const std::string raw =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive, X-Hop\r\n"
      "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nTransfer-Encoding: chunked\r\nVia: 1.0 edge\r\n"
      "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n";
  REQUIRE(parse_response_head(raw, 16384, "GET", resp).state == ParseStatus::complete);
  FieldBlock fields;
  build_h2_response(resp, "Strict-Transport-Security: max-age=60", fields);
  std::string listed;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    listed += std::string(fields.name(i)) + "=" + std::string(fields.value(i)) + ";";
  }
  CHECK(listed ==
        ":status=200;content-type=text/plain;set-cookie=a=1;set-cookie=b=2;"
        "via=1.0 edge, 1.1 handoff;strict-transport-security=max-age=60;");
}
