#include "proxy/access_log.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>

using handoff::proxy::append_json_escaped;

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  append_json_escaped(out, text);
  return out;
}

}  // namespace

TEST_CASE("access-log strings are escaped so that every line stays one valid JSON value") {
  CHECK(escaped("plain /path?q=1") == "plain /path?q=1");
  CHECK(escaped("say \"hi\"\\") == R"(say \"hi\"\\)");
  CHECK(escaped("a\nb\rc\td") == R"(a\u000ab\u000dc\u0009d)");
  CHECK(escaped(std::string("\x01\x1f\x7f", 3)) == R"(\u0001\u001f\u007f)");
  // Bytes beyond ASCII are shown as their byte values, whether or not they form UTF-8.
  CHECK(escaped("\xff\xfe") == R"(\u00ff\u00fe)");
  CHECK(escaped("caf\xc3\xa9") == R"(caf\u00c3\u00a9)");
  for (std::string_view hostile : {std::string_view("\"}\n{\"x\":1"), std::string_view("\xc3"),
                                   std::string_view("\xe2\x82"), std::string_view("\0\n", 2)}) {
    const std::string line = "{\"target\":\"" + escaped(hostile) + "\"}";
    CAPTURE(line);
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(line, ec);
    CHECK_FALSE(ec);
    CHECK(line.find('\n') == std::string::npos);
  }
}
