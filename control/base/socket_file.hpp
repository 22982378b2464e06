#pragma once

#include <sys/types.h>

#include <string>

namespace handoff::control {

/// The file of a unix socket handoff listens on. When it is to replace a live one (a
/// successor taking over the control and takeover sockets), the socket is bound at a temporary
/// name beside the path first and moved onto the path by one rename, `publish`, once
/// everything else is ready: the path always answers, first the old process, then the new one,
/// and a successor that fails before publishing has taken nothing. When done, only a file
/// this process made is removed, never a successor's that replaced it.
class SocketFile {
 public:
  /// `staged`: bind at a temporary name, to publish later; else bind at `path` itself.
  SocketFile(std::string path, bool staged);
  /// Removes the file if it is still this process's (see `remove`).
  ~SocketFile() { remove(); }
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;

  /// The path users know.
  [[nodiscard]] const std::string& path() const { return path_; }
  /// Where to bind: the path, or the temporary name while staged.
  [[nodiscard]] const std::string& bind_path() const { return published_ ? path_ : staged_path_; }
  /// Records the file made by binding (call right after bind).
  void bound();
  /// Moves a staged socket onto the path. Throws std::runtime_error.
  void publish();
  /// Removes the file if it is still the one this process made.
  void remove();

 private:
  std::string path_;
  std::string staged_path_;
  bool published_;
  ino_t inode_ = 0;
};

}  // namespace handoff::control
