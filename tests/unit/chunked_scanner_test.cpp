#include "proxy/chunked_scanner.hpp"

#include <doctest/doctest.h>

#include <string>

using handoff::proxy::ChunkedScanner;

TEST_CASE("a chunked body with extensions and trailers is followed to its end") {
  std::string body = "5;name=\"v\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n";
  ChunkedScanner s;
  std::string data;
  std::size_t used =
      s.feed(body + "NEXT", [&](const char* p, std::size_t n) { data.append(p, n); });
  CHECK(s.done());
  CHECK(used == body.size());
  CHECK(data == "hello world");
}

TEST_CASE("the scanner works byte by byte") {
  std::string body = "a\r\n0123456789\r\n0\r\n\r\n";
  ChunkedScanner s;
  std::size_t total = 0;
  for (char c : body) {
    total += s.feed(std::string_view(&c, 1));
  }
  CHECK(s.done());
  CHECK(total == body.size());
}

TEST_CASE("bad chunk framing is an error") {
  for (std::string bad : {"x\r\n", "5\nhello", "5\r\nhelloX\r\n", "5 x\r\n", "5;a\x01\r\n",
                          "1234567890123456\r\n", "0\r\n bad\r\n\r\n", "0\r\nX: y\n\r\n"}) {
    ChunkedScanner s;
    s.feed(bad);
    CHECK_MESSAGE(s.failed(), bad);
  }
}

TEST_CASE("whitespace before a chunk extension is allowed") {
  ChunkedScanner s;
  s.feed("3 ;ext\r\nabc\r\n0\r\n\r\n");
  CHECK(s.done());
}
