#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <string>

#include "control/base/socket_file.hpp"

namespace handoff::control {

/// Where the control socket lives: `--control`, else $HANDOFF_CONTROL, else the default.
std::string control_socket_path(const std::string& flag);

/// Binds and listens on the control socket at `path`, creating its directory. A stale socket
/// file (nobody answers on it) is replaced; a live one is an error, never taken over. The
/// socket is mode 0600, or 0660 owned by `group` when one is given. A staged `file` (an
/// upgrade) is bound beside the live socket, to replace it when published. Throws
/// std::runtime_error.
boost::asio::local::stream_protocol::acceptor bind_control_socket(boost::asio::io_context& io,
                                                                  SocketFile& file,
                                                                  const std::string& group);

}  // namespace handoff::control
