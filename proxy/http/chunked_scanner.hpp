#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace handoff::proxy {

/// What a chunked body becomes when it is passed on.
enum class ChunkedOutput : std::uint8_t {
  reframe,  ///< canonical chunked framing: sizes in lowercase hex, no extensions, checked trailers
  dechunk,  ///< the chunk data alone (HTTP/1.0, HTTP/2); checked trailers kept in `trailers()`
};

/// Follows a chunked body (RFC 9112 §7.1) as its bytes arrive, in pieces of any size: it
/// validates the framing strictly (sizes, extensions, trailer fields) and writes what to pass on
/// for it. The output is re-framed by the proxy, never the input copied through, so that no
/// byte the proxy did not understand (an extension, a malformed trailer line) reaches the peer.
class ChunkedScanner {
 public:
  /// A scanner at the start of a body.
  explicit ChunkedScanner(ChunkedOutput output = ChunkedOutput::reframe) : output_(output) {}

  /// Scans `data` and appends to `out` what to pass on for it. Returns how many of its bytes
  /// belong to the body: all of them unless the body ends (or fails) inside `data`.
  std::size_t feed(std::string_view data, std::string& out);

  /// The last chunk and the trailer section have been seen.
  [[nodiscard]] bool done() const { return state_ == State::done; }
  /// The framing is invalid; `error()` says how.
  [[nodiscard]] bool failed() const { return state_ == State::error; }
  /// Why the framing is invalid.
  [[nodiscard]] std::string_view error() const { return error_; }
  /// With ChunkedOutput::dechunk, the trailer fields that may be passed on, as
  /// "name: value\r\n" lines (empty when there were none).
  [[nodiscard]] const std::string& trailers() const { return trailers_; }
  /// Chunk data bytes seen so far (what --max-body limits).
  [[nodiscard]] std::uint64_t data_bytes() const { return data_bytes_; }

 private:
  enum class State : std::uint8_t {
    size,             // chunk-size digits
    size_ws,          // BWS after the size or after an extension
    ext_name_ws,      // BWS after ';'
    ext_name,         // token
    ext_name_end,     // BWS after the name
    ext_value_ws,     // BWS after '='
    ext_value_token,  // token
    ext_quoted,       // inside a quoted-string
    ext_quoted_pair,  // after a backslash in a quoted-string
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer,  // a trailer line, or the empty line that ends the body
    trailer_lf,
    done,
    error
  };

  bool step(char c, std::string& out);
  bool chunk_line_byte(char c);
  bool after_element(char c, State on_ws);
  bool end_size_line(std::string& out);
  bool end_trailer_line(std::string& out);
  bool fail(std::string_view why) {
    state_ = State::error;
    error_ = why;
    return false;
  }

  ChunkedOutput output_;
  State state_ = State::size;
  std::uint64_t remaining_ = 0;
  std::uint64_t data_bytes_ = 0;
  unsigned digits_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string trailer_line_;
  std::string trailers_;  // dechunk: the fields of the trailer section that may be passed on
  std::string_view error_;
};

}  // namespace handoff::proxy
