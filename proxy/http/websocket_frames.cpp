#include "proxy/http/websocket_frames.hpp"

#include <algorithm>

namespace handoff::proxy {

std::size_t WebSocketFrames::header_length() const {
  if (header_size_ < 2) {
    return 2;
  }
  const std::uint8_t len7 = header_[1] & 0x7f;
  const std::size_t extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  const std::size_t mask = (header_[1] & 0x80) != 0 ? 4 : 0;
  return 2 + extended + mask;
}

void WebSocketFrames::finish_header() {
  const std::uint8_t len7 = header_[1] & 0x7f;
  std::uint64_t length = len7;
  if (len7 >= 126) {
    const std::size_t bytes = len7 == 126 ? 2 : 8;
    length = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      length = (length << 8) | header_[2 + i];
    }
  }
  header_size_ = 0;
  payload_left_ = length;
}

void WebSocketFrames::pass(std::string_view bytes) {
  while (!bytes.empty()) {
    if (payload_left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, bytes.size()));
      payload_left_ -= n;
      bytes.remove_prefix(n);
      continue;
    }
    header_[header_size_++] = static_cast<std::uint8_t>(bytes.front());
    bytes.remove_prefix(1);
    if (header_size_ >= 2 && header_size_ == header_length()) {
      finish_header();
    }
  }
}

}  // namespace handoff::proxy
