#pragma once

#include <string>
#include <string_view>

namespace handoff::control {

/// The whole contents of a file a user named, e.g. a certificate; throws std::invalid_argument
/// naming `what` (such as "--tls-cert"), the path and the reason when it cannot be read.
std::string read_text_file(const std::string& path, std::string_view what);

}  // namespace handoff::control
