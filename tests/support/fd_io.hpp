#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace handoff::test {

/// Sends all of `bytes` on a blocking socket (retrying on EINTR); false when the peer is gone.
/// `error` (when given) says why.
bool send_all(int fd, std::string_view bytes, std::string* error = nullptr);

/// Where a message of `size` bytes is cut into pieces that are sent apart: the end of each
/// piece, the last being `size`. One piece unless HANDOFF_TEST_SPLIT_SENDS is set.
std::vector<std::size_t> send_cuts(std::size_t size);

/// Appends what one recv(2) returns to `buffer`; false on end of stream, error or timeout.
bool recv_append(int fd, std::string& buffer);

}  // namespace handoff::test
