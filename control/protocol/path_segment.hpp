#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace handoff::control {

/// `text` as one path segment of a URL (RFC 3986 §3.3): every byte but the unreserved ones is
/// percent-encoded, so a '/', '?', '#' or ".." in it can never change the path.
std::string percent_encode_segment(std::string_view text);

/// A path segment with its percent-escapes decoded; empty when an escape is malformed.
std::optional<std::string> percent_decode_segment(std::string_view segment);

}  // namespace handoff::control
