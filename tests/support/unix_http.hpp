#pragma once

#include <string>
#include <string_view>

namespace handoff::test {

/// A response from the control socket.
struct UnixResponse {
  int status = 0;
  std::string body;  ///< decoded from chunked framing when streamed
};

/// Sends one HTTP/1.1 request over a unix socket (Connection: close) and reads the response.
UnixResponse unix_request(const std::string& socket, std::string_view method,
                          std::string_view target, std::string_view body = {},
                          std::string_view extra_headers = {});

}  // namespace handoff::test
