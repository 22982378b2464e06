#pragma once

#include <string>

namespace handoff::containers {

/// Tries to connect to the unix socket at `path`: 0 when something accepts the connection,
/// else the errno connect(2) gave (ENOENT, ECONNREFUSED, EACCES, ...), so that callers can say
/// plainly why a socket cannot be used.
int probe_unix_socket(const std::string& path);

}  // namespace handoff::containers
