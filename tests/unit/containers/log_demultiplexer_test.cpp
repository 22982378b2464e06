#include "containers/log_demultiplexer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using handoff::containers::demultiplex_logs;
using handoff::containers::LogDemultiplexer;

namespace {

// Appends one frame of Docker's multiplexed stream to `raw`.
void frame(std::string& raw, char stream, const std::string& text) {
  raw += std::string{stream, 0, 0, 0};
  raw += static_cast<char>((text.size() >> 24) & 0xff);
  raw += static_cast<char>((text.size() >> 16) & 0xff);
  raw += static_cast<char>((text.size() >> 8) & 0xff);
  raw += static_cast<char>(text.size() & 0xff);
  raw += text;
}

// Decodes `raw` fed in pieces cut at `a` and `b`.
std::string decode_split(const std::string& raw, std::size_t a, std::size_t b) {
  LogDemultiplexer d;
  std::string out = d.feed(std::string_view(raw).substr(0, a));
  out += d.feed(std::string_view(raw).substr(a, b - a));
  out += d.feed(std::string_view(raw).substr(b));
  return out + d.finish();
}

}  // namespace

TEST_CASE("Docker's multiplexed log frames are joined into plain text") {
  std::string raw;
  auto frame = [&](char stream, const std::string& text) { ::frame(raw, stream, text); };
  frame(1, "starting\n");
  frame(2, "warning: slow disk\n");
  frame(1, std::string(300, 'x') + "\n");
  CHECK(demultiplex_logs(raw) == "starting\nwarning: slow disk\n" + std::string(300, 'x') + "\n");
}

TEST_CASE("logs of a container with a TTY pass through unchanged") {
  CHECK(demultiplex_logs("plain output\n") == "plain output\n");
  CHECK(demultiplex_logs("") == "");
}

TEST_CASE("a followed log stream cut at any two places decodes to the same text") {
  std::string framed;
  frame(framed, 1, "one\n");
  frame(framed, 2, "");
  frame(framed, 2, "two two\n");
  frame(framed, 1, std::string(260, 'y') + "\n");
  const std::string plain = "\x01 not a frame: a TTY's output starts like this\n";
  for (const std::string& raw : std::vector<std::string>{framed, plain}) {
    const std::string whole = demultiplex_logs(raw);
    for (std::size_t a = 0; a <= raw.size(); ++a) {
      for (std::size_t b = a; b <= raw.size(); b += 7) {
        CAPTURE(a);
        CAPTURE(b);
        REQUIRE(decode_split(raw, a, b) == whole);
      }
    }
  }
  CHECK(demultiplex_logs(framed) == "one\ntwo two\n" + std::string(260, 'y') + "\n");
  CHECK(demultiplex_logs(plain) == plain);
}
