#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace handoff::containers {

/// Decodes Docker's log stream as it arrives, in pieces cut anywhere: frames of an 8-byte
/// header ([stream, 0, 0, 0, size as big-endian u32]) and `size` bytes of output, or plain text
/// for a container with a TTY (recognised by a first byte that is not a stream number).
class LogDemultiplexer {
 public:
  /// Takes the next bytes; returns the output text they complete (possibly part of a frame).
  std::string feed(std::string_view bytes);
  /// At the end of the stream: what is held back (a stream too short to tell its kind).
  std::string finish();

 private:
  enum class Kind { unknown, framed, plain };
  Kind kind_ = Kind::unknown;
  std::string header_;         // a frame header read in part
  std::size_t remaining_ = 0;  // bytes of the current frame's output still to come
};

/// Decodes a whole log stream into plain text.
std::string demultiplex_logs(std::string_view raw);

}  // namespace handoff::containers
