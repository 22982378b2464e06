#pragma once

#include <sys/types.h>

#include <cstddef>
#include <vector>

namespace handoff::proxy {

/// A non-blocking pipe through which body bytes go from one socket to another inside the
/// kernel (splice(2)): they are never copied into handoff's memory, and at most the pipe's
/// capacity is held for a client that reads slowly.
class SplicePipe {
 public:
  /// Opens a pipe; `valid()` says whether the system gave one.
  SplicePipe();
  ~SplicePipe();
  SplicePipe(SplicePipe&& other) noexcept;
  SplicePipe& operator=(SplicePipe&& other) noexcept;
  SplicePipe(const SplicePipe&) = delete;
  SplicePipe& operator=(const SplicePipe&) = delete;

  /// Whether the pipe is open.
  [[nodiscard]] bool valid() const { return read_end_ >= 0; }
  /// Bytes in the pipe, taken from one socket and not yet given to the other.
  [[nodiscard]] std::size_t held() const { return held_; }

  /// Moves up to `max` bytes from the socket `from` into the pipe, without waiting: the count,
  /// 0 at the end of the stream, or -1 with errno (EAGAIN: nothing to read, or the pipe is full).
  ssize_t fill(int from, std::size_t max);
  /// Moves what the pipe holds to the socket `to`, without waiting: the count, or -1 with
  /// errno (EAGAIN: the socket's send buffer is full).
  ssize_t drain(int to);

 private:
  void close();

  int read_end_ = -1;
  int write_end_ = -1;
  std::size_t held_ = 0;
};

/// A worker's empty pipes, kept for the next large body: opening one costs three system calls.
class SplicePipes {
 public:
  /// An empty pipe (possibly not valid, when the system refused one).
  SplicePipe take();
  /// Keeps `pipe` when it is empty; one that still holds bytes is closed with them.
  void put(SplicePipe pipe);

 private:
  std::vector<SplicePipe> free_;
};

}  // namespace handoff::proxy
