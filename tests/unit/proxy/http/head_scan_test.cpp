#include "proxy/http/head_scan.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/http/http_head.hpp"

using namespace handoff::proxy;

namespace {

using State = HeadScan::State;

// The lines a reference splitter finds: every CRLF-ended line up to the empty one.
std::vector<std::size_t> reference_line_ends(std::string_view head) {
  std::vector<std::size_t> ends;
  for (std::size_t start = 0;;) {
    const std::size_t cr = head.find("\r\n", start);
    if (cr == start) {
      return ends;
    }
    ends.push_back(cr);
    start = cr + 2;
  }
}

}  // namespace

TEST_CASE("a clean head is found whole, with each line's end") {
  const std::string head =
      "GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: a\tb\r\nAccept: */*\r\n\r\n";
  const HeadScan scan = scan_head(head + "body \x01\x02 bytes are not read");
  REQUIRE(scan.state == State::complete);
  CHECK(scan.end == head.size());
  const std::vector<std::size_t> ends = reference_line_ends(head);
  REQUIRE(scan.lines == ends.size());
  for (std::size_t i = 0; i < ends.size(); ++i) {
    CHECK(scan.line_end[i] == ends[i]);
  }
}

TEST_CASE("a head cut at every byte is incomplete until its last one") {
  const std::string head =
      "POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nX-Long-Field-Name: "
      "a value that spans more than sixteen bytes\r\n\r\n";
  for (std::size_t cut = 0; cut < head.size(); ++cut) {
    CAPTURE(cut);
    CHECK(scan_head(std::string_view(head).substr(0, cut)).state == State::incomplete);
  }
  CHECK(scan_head(head).state == State::complete);
}

TEST_CASE("anything but a clean head is left to the line-by-line parser") {
  const std::string good = "GET / HTTP/1.1\r\nHost: a\r\nX-Field: 0123456789abcdef\r\n\r\n";
  // A bad byte at every position of every line, in the SIMD part and in the tail.
  for (const char bad : {'\0', '\x01', '\x1f', '\x7f', '\n', '\r'}) {
    for (std::size_t at = 0; at + 4 < good.size(); ++at) {
      if (good[at] == '\r' || good[at] == '\n') {
        continue;
      }
      std::string head = good;
      head[at] = bad;
      CAPTURE(at);
      CAPTURE(static_cast<int>(bad));
      CHECK(scan_head(head).state == State::irregular);
    }
  }
  CHECK(scan_head("\r\nGET / HTTP/1.1\r\n\r\n").state == State::irregular);  // empty first line
  std::string many = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i < HeadScan::kMaxLines; ++i) {
    many += "X: y\r\n";
  }
  CHECK(scan_head(many + "\r\n").state == State::irregular);
  CHECK(scan_head("GET / HTTP/1.1\r\nX: y\r").state == State::incomplete);  // CR, LF to come
}

TEST_CASE("a control byte in a head gives the same refusal as before the scan") {
  MessageHead head;
  ParseResult r = parse_request_head("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 16384, head);
  CHECK(r.state == ParseStatus::error);
  CHECK(r.error == "invalid character in header value");
  r = parse_request_head("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 16384, head);
  CHECK(r.error == "malformed header line ending");
  r = parse_request_head("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 16384, head);
  CHECK(r.error == "malformed header line ending");
  r = parse_response_head("HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", 16384, "GET", head);
  CHECK(r.error == "malformed status line");
  r = parse_request_head("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n", 16384, head);
  REQUIRE(r.state == ParseStatus::complete);
  CHECK(head.headers[1].value == "a\tb");
}
