#include "proxy/http/websocket_frames.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using handoff::proxy::WebSocketFrames;

namespace {

// A frame with `payload` bytes of payload, masked or not, with the shortest length encoding.
std::string frame(std::size_t payload, bool masked) {
  std::string f(1, '\x82');
  const char mask = masked ? '\x80' : '\0';
  if (payload < 126) {
    f += static_cast<char>(mask | static_cast<char>(payload));
  } else if (payload <= 0xffff) {
    f += static_cast<char>(mask | 126);
    f += static_cast<char>(payload >> 8);
    f += static_cast<char>(payload & 0xff);
  } else {
    f += static_cast<char>(mask | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      f += static_cast<char>((static_cast<std::uint64_t>(payload) >> shift) & 0xff);
    }
  }
  if (masked) {
    f += std::string("\x11\x22\x33\x44", 4);
  }
  f += std::string(payload, 'x');
  return f;
}

}  // namespace

TEST_CASE("frame ends are found whatever the pieces the bytes pass in") {
  std::string stream;
  std::vector<std::size_t> ends;
  for (std::size_t payload : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
    for (bool masked : {false, true}) {
      stream += frame(payload, masked);
      ends.push_back(stream.size());
    }
  }
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7},
                            std::size_t{1000}, stream.size()}) {
    CAPTURE(piece);
    WebSocketFrames frames;
    CHECK(frames.at_boundary());
    std::size_t at = 0;
    std::size_t next_end = 0;
    bool exact = true;
    while (at < stream.size()) {
      const std::size_t n = std::min(piece, stream.size() - at);
      frames.pass(std::string_view(stream).substr(at, n));
      at += n;
      while (next_end < ends.size() && ends[next_end] < at) {
        ++next_end;
      }
      const bool is_end = next_end < ends.size() && ends[next_end] == at;
      exact = exact && frames.at_boundary() == is_end;
    }
    CHECK(exact);
    CHECK(frames.at_boundary());
  }
}

TEST_CASE("the going-away frame is itself one whole close frame with status 1001") {
  WebSocketFrames frames;
  frames.pass({WebSocketFrames::kGoingAway.data(), WebSocketFrames::kGoingAway.size()});
  CHECK(frames.at_boundary());
  CHECK(static_cast<unsigned char>(WebSocketFrames::kGoingAway[0]) == 0x88);  // FIN, close
  CHECK(((static_cast<unsigned char>(WebSocketFrames::kGoingAway[2]) << 8) |
         static_cast<unsigned char>(WebSocketFrames::kGoingAway[3])) == 1001);
}
