#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/base/fd_passing.hpp"
#include "control/base/socket_file.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/listening_socket.hpp"

namespace handoff::control {

/// The takeover socket beside the control socket: `takeover.sock` in the same directory.
std::string takeover_socket_path(const std::string& control_path);

/// Who asks to take over: its process id (in its own pid namespace: a successor container's
/// handoff is pid 1 like this one), and the token it was started with, which ties it to the
/// `handoff upgrade` that started it (empty for one an operator started by hand).
struct SuccessorId {
  pid_t pid = 0;
  std::string token;
};

/// The environment variable that carries a successor's token.
inline constexpr const char* kTakeoverTokenVariable = "HANDOFF_TAKEOVER_TOKEN";

/// What a running handoff lends its successor: the state and every listening socket.
struct Handover {
  std::string state_json;
  std::vector<proxy::ListeningSocket> listeners;
  std::string container;  ///< the running process's container id, when it runs in one
  int metrics = -1;       ///< the --metrics-listen socket, when there is one
};

/// The running process's side of an upgrade. A successor (`handoff run … --takeover`) connects
/// to the takeover socket; this side freezes the state, sends it with every listening socket
/// and its own stdout and stderr, and waits for the successor to say it accepts. Only then does
/// the running process step down; until then it never stopped accepting, so a successor that
/// fails leaves nothing to take back. One successor at a time; peers of another user are
/// refused.
class TakeoverListener {
 public:
  /// What the listener asks of the daemon.
  struct Callbacks {
    /// Freezes the state and gives the handover, waiting up to the given time for running
    /// workflows to end; empty when they did not.
    std::function<std::optional<Handover>(std::chrono::milliseconds)> offer;
    /// Why `offer` gave nothing, for the successor's error message.
    std::function<std::string()> busy_reason;
    /// The successor accepts: step down.
    std::function<void(const SuccessorId&)> succeeded;
    /// The successor did not take over (`reason`); the state may change again.
    std::function<void(const SuccessorId&, const std::string&)> failed;
  };

  /// Listens on `path`, replacing a file there by one rename; `staged` (a successor that takes
  /// the path over from the running process) waits with the rename for `publish`. Throws
  /// std::runtime_error.
  TakeoverListener(const std::string& path, Callbacks callbacks, bool staged = false);
  /// Stops; removes the socket file unless a successor's replaced it.
  ~TakeoverListener();
  TakeoverListener(const TakeoverListener&) = delete;
  TakeoverListener& operator=(const TakeoverListener&) = delete;

  /// Starts answering successors on a thread of its own.
  void start();
  /// Stops answering (a handover in progress ends first).
  void stop();
  /// Moves a staged socket onto the path. Throws std::runtime_error.
  void publish() { file_.publish(); }
  /// The socket's path.
  [[nodiscard]] const std::string& path() const { return file_.path(); }

 private:
  void serve();
  void hand_over(int connection);

  SocketFile file_;
  Callbacks callbacks_;
  OwnedFd listener_;
  OwnedFd wake_[2];  // a pipe that ends the accept wait
  std::thread thread_;
};

/// What a successor received from the process it takes over from.
struct Inheritance {
  pid_t from = 0;
  ProxyState state;
  std::vector<proxy::ListeningSocket> listeners;  ///< owned by whoever adopts them
  OwnedFd out;                                    ///< the old process's stdout
  OwnedFd err;                                    ///< and stderr
  std::string container;  ///< the old process's container id, when it runs in one
  OwnedFd metrics;        ///< the old process's --metrics-listen socket, when it had one
};

/// The successor's side: connects, receives the state and the sockets, and later says whether
/// it accepts on them.
class TakeoverClient {
 public:
  /// Connects to the takeover socket at `path` and introduces itself. Throws
  /// std::runtime_error (nobody answers there, or another user's process does).
  explicit TakeoverClient(const std::string& path);
  /// Waits for the handover (the running process first lets workflows in progress end).
  /// Throws std::runtime_error with the running process's reason when it refuses.
  Inheritance receive(std::chrono::milliseconds timeout);
  /// Tells the old process that this one accepts on the sockets and answers on the control
  /// socket: it steps down.
  void ready();
  /// Tells the old process that this one gives up, and why: it goes on as before.
  void fail(std::string_view reason);

 private:
  OwnedFd socket_;
};

}  // namespace handoff::control
