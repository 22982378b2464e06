#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/chunked_scanner.hpp"
#include "proxy/http/http_head.hpp"

namespace handoff::proxy {

/// Frames one message body as its bytes arrive, whatever the reads that split them: it says
/// which of the buffered bytes belong to the body and what to pass on for them, and when the
/// body ends. Bytes after the end are never taken, so they cannot leak into this message (a
/// pipelined request stays in the buffer; leftover upstream bytes are the caller's to refuse).
/// Pure: no I/O, so the relay's framing is tested and fuzzed without sockets.
class BodyFramer {
 public:
  /// What one `feed` took and what to send for it.
  struct Step {
    std::size_t consumed = 0;  ///< bytes of the input that belong to the body
    std::string_view forward;  ///< what to pass on; valid until the next feed
  };

  /// A body delimited as `kind` says, with `content_length` bytes for BodyKind::length.
  BodyFramer(BodyKind kind, std::uint64_t content_length,
             ChunkedOutput chunked_output = ChunkedOutput::reframe)
      : kind_(kind), remaining_(content_length), chunks_(chunked_output) {}

  /// Takes the body's bytes from the front of `input`.
  Step feed(std::string_view input);

  /// The whole body has been taken (never, for a body delimited by close).
  [[nodiscard]] bool done() const;
  /// The framing is invalid (chunked only); `error()` says how.
  [[nodiscard]] bool failed() const { return chunks_.failed(); }
  /// Why the framing is invalid.
  [[nodiscard]] std::string_view error() const { return chunks_.error(); }
  /// BodyKind::length: the body bytes still to come; 0 for the other kinds.
  [[nodiscard]] std::uint64_t length_remaining() const {
    return kind_ == BodyKind::length ? remaining_ : 0;
  }
  /// BodyKind::length: `n` body bytes went past the framer (spliced): no longer to come.
  void skip(std::uint64_t n) {
    remaining_ -= n;
    taken_ += n;
  }
  /// A chunked body passed on as ChunkedOutput::dechunk: its trailer fields that may be
  /// passed on, as "name: value\r\n" lines.
  [[nodiscard]] const std::string& trailers() const { return chunks_.trailers(); }
  /// Body data bytes seen so far, without chunked framing (what --max-body limits).
  [[nodiscard]] std::uint64_t data_bytes() const;

 private:
  BodyKind kind_;
  std::uint64_t remaining_;  // BodyKind::length: bytes still to come
  std::uint64_t taken_ = 0;  // BodyKind::length and until_close: bytes taken so far
  ChunkedScanner chunks_;
  std::string out_;  // re-framed chunked output
};

}  // namespace handoff::proxy
