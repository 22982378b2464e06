#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace handoff::control {

/// The proxy could not be reached; the message says why in plain words.
class UnreachableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A blocking client of the control socket: HTTP/1.1 through libcurl over the unix socket.
class ControlClient {
 public:
  /// Talks to the proxy listening on `socket_path`.
  explicit ControlClient(std::string socket_path) : path_(std::move(socket_path)) {}

  /// Sends a request and returns the HTTP status. With `on_line`, the body is streamed
  /// (newline-delimited JSON) and each line is passed as it arrives; otherwise it is stored
  /// in `body`. Throws UnreachableError when no proxy answers.
  int request(std::string_view method, std::string_view path, const std::string& payload,
              std::string* body, const std::function<void(std::string_view)>& on_line = {});

 private:
  void check_reachable() const;

  std::string path_;
};

}  // namespace handoff::control
