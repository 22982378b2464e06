#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "control/api/control_api.hpp"
#include "control/base/operation_runner.hpp"
#include "control/base/socket_file.hpp"

namespace handoff::control {

/// Serves the control API over HTTP/1.1 on the unix control socket, on a thread of its own.
/// Long operations run on threads of their own and stream newline-delimited JSON events to
/// clients that accept `application/x-ndjson`; other clients get the final result as one JSON
/// body with a fitting status.
class ControlServer {
 public:
  /// Binds the socket (see bind_control_socket; `staged`, to replace a running handoff's
  /// when published); throws std::runtime_error.
  ControlServer(const std::string& path, const std::string& group, ControlApi& api,
                bool staged = false);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Starts serving.
  void start();
  /// Stops accepting, waits up to `wait` for running operations, removes the socket file
  /// (unless a successor's socket replaced it).
  void stop(std::chrono::milliseconds wait);
  /// Long operations (swap, deploy, rollback) still running.
  [[nodiscard]] int running_operations() const { return operations_.running(); }
  /// Moves a staged socket onto its path (the running handoff's socket is replaced). Throws
  /// std::runtime_error.
  void publish() { file_.publish(); }
  /// The socket's path.
  [[nodiscard]] const std::string& path() const { return file_.path(); }

 private:
  using Socket = boost::asio::local::stream_protocol::socket;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(Socket socket);
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_request(
      Socket& socket, boost::beast::flat_buffer& buffer,
      boost::beast::http::request_parser<boost::beast::http::string_body>& parser);
  boost::asio::awaitable<ApiResponse> handle(const ApiRequest& request);

  bool peer_allowed(const Socket& socket) const;

  SocketFile file_;
  ControlApi& api_;
  std::optional<gid_t> group_;  // the --control-group, when given
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
  boost::asio::thread_pool blocking_{2};  // API calls that may block on the container engine
  OperationRunner operations_;            // deploys, swaps, rollbacks and log follows
};

}  // namespace handoff::control
