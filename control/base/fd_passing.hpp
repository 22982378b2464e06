#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::control {

/// Owns a file descriptor: closes it when destroyed.
class OwnedFd {
 public:
  OwnedFd() = default;
  /// Takes `fd` (-1: none).
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd() { reset(); }
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;

  /// The descriptor (-1: none).
  [[nodiscard]] int get() const { return fd_; }
  /// Gives the descriptor up without closing it.
  int release();
  /// Closes the descriptor, if any.
  void reset();

 private:
  int fd_ = -1;
};

using Deadline = std::chrono::steady_clock::time_point;

/// One message between two handoff processes on a unix stream socket: JSON text, and the
/// descriptors that travel with it (SCM_RIGHTS).
struct FdMessage {
  std::string text;
  std::vector<OwnedFd> fds;
};

/// Sends `text` with duplicates of `fds` (the sender keeps its own). Throws std::runtime_error
/// when the peer is gone or `deadline` passes.
void send_message(int socket, std::string_view text, const std::vector<int>& fds,
                  Deadline deadline);

/// Receives one message (descriptors arrive close-on-exec). Throws std::runtime_error on end of
/// stream, a malformed frame, or when `deadline` passes.
FdMessage receive_message(int socket, Deadline deadline);

/// Connects to the unix socket at `path` (blocking). Throws std::runtime_error naming it.
OwnedFd connect_unix(const std::string& path);

/// Binds and listens on a unix socket at `path` (which must not exist), mode 0600. Throws
/// std::runtime_error naming it.
OwnedFd listen_unix(const std::string& path);

/// The user id of the process at the other end of a unix socket (-1 when unknown).
long peer_uid(int socket);

}  // namespace handoff::control
