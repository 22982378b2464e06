#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <optional>
#include <string>
#include <thread>

#include "control/control_api.hpp"

namespace handoff::control {

/// Serves the control API over HTTP/1.1 on the unix control socket, on a thread of its own.
/// Long operations run on threads of their own and stream newline-delimited JSON events to
/// clients that accept `application/x-ndjson`; other clients get the final result as one JSON
/// body with a fitting status.
class ControlServer {
 public:
  /// Binds the socket (see bind_control_socket); throws std::runtime_error.
  ControlServer(const std::string& path, const std::string& group, ControlApi& api);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Starts serving.
  void start();
  /// Stops accepting, waits up to `wait` for running operations, removes the socket file.
  void stop(std::chrono::milliseconds wait);
  /// The socket's path.
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  using Socket = boost::asio::local::stream_protocol::socket;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(Socket socket);

  bool peer_allowed(const Socket& socket) const;

  std::string path_;
  ControlApi& api_;
  std::optional<gid_t> group_;  // the --control-group, when given
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
  std::shared_ptr<std::atomic<int>> running_ops_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace handoff::control
