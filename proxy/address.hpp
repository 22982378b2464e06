#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::proxy {

/// A host and port as written by a user: `127.0.0.1:80`, `[::1]:80` or `app.internal:80`.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

/// Splits `text` into host and port; throws std::invalid_argument with a clear message.
HostPort parse_host_port(std::string_view text);

/// Resolves `text` (see HostPort) to its endpoints, numeric addresses without a lookup.
/// Throws std::invalid_argument when it is malformed or the name does not resolve.
std::vector<boost::asio::ip::tcp::endpoint> resolve_address(std::string_view text);

/// Formats an endpoint as `1.2.3.4:80` or `[::1]:80`.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace handoff::proxy
