#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http/http_head.hpp"

namespace handoff::proxy {

/// A head's lines, found in one pass over its bytes (sixteen at a time) that also checks each
/// byte: the parser then neither searches for line ends again nor checks field values byte by
/// byte. Only the common, well-formed case is handled here; anything else is `irregular`, and
/// the parser's line-by-line path decides what is wrong with it.
struct HeadScan {
  /// What the scan found.
  enum class State : std::uint8_t {
    complete,    ///< a head ended by an empty line, every line clean
    incomplete,  ///< clean so far, no empty line yet
    irregular,   ///< a control byte other than HTAB, a CR or LF not paired as CRLF, an empty
                 ///< first line, or more lines than `line_end` holds
  };
  /// Lines a scan records: the start line, the field lines and the empty line's neighbour.
  static constexpr std::size_t kMaxLines = kMaxHeaders + 1;

  State state = State::incomplete;
  std::size_t end = 0;    ///< when complete: the offset just past the empty line
  std::size_t lines = 0;  ///< when complete: lines before the empty line
  std::array<std::uint32_t, kMaxLines> line_end;  ///< the offset of each line's CR
};

/// Scans `data` from the start of a head (see HeadScan). Bytes after the head are not read.
HeadScan scan_head(std::string_view data);

}  // namespace handoff::proxy
