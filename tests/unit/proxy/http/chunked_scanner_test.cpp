#include "proxy/http/chunked_scanner.hpp"

#include <doctest/doctest.h>

#include <string>

using handoff::proxy::ChunkedOutput;
using handoff::proxy::ChunkedScanner;

namespace {

struct Scanned {
  std::size_t used = 0;
  std::string out;
  bool done = false;
  bool failed = false;
};

/// Feeds `input` cut at the given offsets (ascending), as reads would deliver it.
Scanned scan(std::string_view input, std::initializer_list<std::size_t> cuts = {},
             ChunkedOutput output = ChunkedOutput::reframe) {
  ChunkedScanner s(output);
  Scanned r;
  std::size_t from = 0;
  auto feed_to = [&](std::size_t to) {
    if (!s.done() && !s.failed()) {
      r.used += s.feed(input.substr(from, to - from), r.out);
    }
    from = to;
  };
  for (std::size_t cut : cuts) {
    feed_to(cut);
  }
  feed_to(input.size());
  r.done = s.done();
  r.failed = s.failed();
  return r;
}

}  // namespace

TEST_CASE("a chunked body is re-framed: canonical sizes, no extensions, checked trailers") {
  const std::string body =
      "05;name=\"v\" ; b = c\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum:  1\r\n\r\n";
  Scanned r = scan(body + "NEXT");
  CHECK(r.done);
  CHECK(r.used == body.size());
  CHECK(r.out == "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n");
}

TEST_CASE("split at every byte boundary, a chunked body scans the same as in one piece") {
  const std::string body =
      "A;x=\"q\\\"d\"\r\n0123456789\r\n3\r\nabc\r\n0\r\nTrailer-One: 1\r\nT2: two\r\n\r\n";
  const Scanned whole = scan(body + "GET / HTTP/1.1\r\n");
  REQUIRE(whole.done);
  REQUIRE(whole.used == body.size());
  for (std::size_t i = 1; i < body.size(); ++i) {
    const Scanned two = scan(body + "GET", {i});
    CHECK_MESSAGE(two.out == whole.out, "cut at ", i);
    CHECK(two.used == body.size());
    for (std::size_t j = i + 1; j < body.size(); j += 7) {
      const Scanned three = scan(body, {i, j});
      CHECK_MESSAGE(three.out == whole.out, "cuts at ", i, " and ", j);
      CHECK(three.done);
    }
  }
}

TEST_CASE("bad chunk framing, extensions and trailers are errors") {
  for (std::string bad :
       {"x\r\n", "5\nhello", "5\r\nhelloX\r\n", "5 x\r\n", "5;a\x01\r\n", "1234567890123456\r\n",
        "0\r\n bad\r\n\r\n", "0\r\nX: y\n\r\n", "5;a=\"bc\r\nhello\r\n0\r\n\r\n", "5;=x\r\n",
        "2;\r\nab\r\n", "2;a b\r\n", "2;a=\r\n", "2;a=b c\r\n", "2;a=\"\x01\"\r\n",
        "0\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", "0\r\nnocolon\r\n\r\n",
        "0\r\nA : 1\r\n\r\n", "0\r\nX: a\rb\r\n\r\n"}) {
    const Scanned r = scan(bad);
    CHECK_MESSAGE(r.failed, bad);
  }
}

TEST_CASE("whitespace around chunk extension parts is allowed (BWS)") {
  CHECK(scan("3 ;ext\r\nabc\r\n0\r\n\r\n").done);
  CHECK(scan("3; a = b ;c=\"d e\"\r\nabc\r\n0\r\n\r\n").done);
}

TEST_CASE("trailer fields that framing or routing depend on are dropped") {
  const Scanned r = scan(
      "1\r\na\r\n0\r\nContent-Length: 5\r\nHost: evil\r\nX-Ok: 1\r\nTransfer-Encoding: "
      "chunked\r\n\r\n");
  CHECK(r.done);
  CHECK(r.out == "1\r\na\r\n0\r\nX-Ok: 1\r\n\r\n");
}

TEST_CASE("de-chunking yields the data alone") {
  const Scanned r =
      scan("5\r\nhello\r\n6\r\n world\r\n0\r\nX: 1\r\n\r\n", {3, 12}, ChunkedOutput::dechunk);
  CHECK(r.done);
  CHECK(r.out == "hello world");
}

TEST_CASE("de-chunking keeps the trailer fields apart, without those that frame or route") {
  const std::string body =
      "1\r\na\r\n0\r\nX-Sum: 42\r\nContent-Length: 5\r\nHost: evil\r\nX-Ok: 1\r\n\r\n";
  for (std::size_t cut = 1; cut < body.size(); ++cut) {
    ChunkedScanner scanner(ChunkedOutput::dechunk);
    std::string out;
    scanner.feed(std::string_view(body).substr(0, cut), out);
    scanner.feed(std::string_view(body).substr(cut), out);
    CAPTURE(cut);
    CHECK(scanner.done());
    CHECK(out == "a");
    CHECK(scanner.trailers() == "X-Sum: 42\r\nX-Ok: 1\r\n");
  }
}
