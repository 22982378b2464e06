#pragma once

#include <string>
#include <string_view>

namespace handoff::test {

/// Sends all of `bytes` on a blocking socket (retrying on EINTR); false when the peer is gone.
/// `error` (when given) says why.
bool send_all(int fd, std::string_view bytes, std::string* error = nullptr);

/// Appends what one recv(2) returns to `buffer`; false on end of stream, error or timeout.
bool recv_append(int fd, std::string& buffer);

}  // namespace handoff::test
