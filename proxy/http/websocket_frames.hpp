#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace handoff::proxy {

/// Follows the frames of one direction of a WebSocket connection (RFC 6455 §5.2) as its bytes
/// pass, in pieces of any size, to know where a frame ends: only there may the proxy put a
/// frame of its own, such as the close frame it sends a client when it goes away.
class WebSocketFrames {
 public:
  /// Accounts for bytes that went through, in order.
  void pass(std::string_view bytes);
  /// Whether the bytes so far end exactly after a whole frame (or none passed yet).
  [[nodiscard]] bool at_boundary() const { return header_size_ == 0 && payload_left_ == 0; }

  /// The close frame a server sends when it goes away: status 1001, unmasked.
  static constexpr std::array<char, 4> kGoingAway = {'\x88', '\x02', '\x03', '\xe9'};

 private:
  // How long the header is, once its first two bytes tell (2, plus 2 or 8 length bytes, plus 4
  // mask bytes).
  [[nodiscard]] std::size_t header_length() const;
  void finish_header();

  std::array<std::uint8_t, 14> header_{};
  std::size_t header_size_ = 0;     // header bytes seen of the current frame
  std::uint64_t payload_left_ = 0;  // payload bytes still to pass
};

}  // namespace handoff::proxy
