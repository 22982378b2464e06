#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <string>

namespace handoff::control {

/// Where the control socket lives: `--control`, else $HANDOFF_CONTROL, else the default.
std::string control_socket_path(const std::string& flag);

/// Binds and listens on the control socket at `path`, creating its directory. A stale socket
/// file (nobody answers on it) is replaced; a live one is an error, never taken over. The
/// socket is mode 0600, or 0660 owned by `group` when one is given. With `take_over` (an
/// upgrade), a live socket is replaced by one rename instead. Throws std::runtime_error.
boost::asio::local::stream_protocol::acceptor bind_control_socket(boost::asio::io_context& io,
                                                                  const std::string& path,
                                                                  const std::string& group,
                                                                  bool take_over = false);

}  // namespace handoff::control
