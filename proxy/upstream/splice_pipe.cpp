#include "proxy/upstream/splice_pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace handoff::proxy {

namespace {

// Empty pipes a worker keeps.
constexpr std::size_t kMaxFreePipes = 16;

}  // namespace

SplicePipe::SplicePipe() {
  int ends[2];
  if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) {
    return;
  }
  // The default capacity, 64 KiB, is kept: larger pipes measured no faster here, and it is
  // what a client that reads slowly holds in the kernel besides the sockets' own buffers.
  read_end_ = ends[0];
  write_end_ = ends[1];
}

SplicePipe::~SplicePipe() {
  close();
}

SplicePipe::SplicePipe(SplicePipe&& other) noexcept
    : read_end_(std::exchange(other.read_end_, -1)),
      write_end_(std::exchange(other.write_end_, -1)),
      held_(std::exchange(other.held_, 0)) {}

SplicePipe& SplicePipe::operator=(SplicePipe&& other) noexcept {
  if (this != &other) {
    close();
    read_end_ = std::exchange(other.read_end_, -1);
    write_end_ = std::exchange(other.write_end_, -1);
    held_ = std::exchange(other.held_, 0);
  }
  return *this;
}

void SplicePipe::close() {
  if (read_end_ >= 0) {
    ::close(read_end_);
    ::close(write_end_);
  }
  read_end_ = write_end_ = -1;
  held_ = 0;
}

ssize_t SplicePipe::fill(int from, std::size_t max) {
  const ssize_t n =
      ::splice(from, nullptr, write_end_, nullptr, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) {
    held_ += static_cast<std::size_t>(n);
  }
  return n;
}

ssize_t SplicePipe::drain(int to) {
  const ssize_t n =
      ::splice(read_end_, nullptr, to, nullptr, held_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) {
    held_ -= static_cast<std::size_t>(n);
  }
  return n;
}

SplicePipe SplicePipes::take() {
  if (free_.empty()) {
    return SplicePipe();
  }
  SplicePipe pipe = std::move(free_.back());
  free_.pop_back();
  return pipe;
}

void SplicePipes::put(SplicePipe pipe) {
  if (pipe.valid() && pipe.held() == 0 && free_.size() < kMaxFreePipes) {
    free_.push_back(std::move(pipe));
  }
}

}  // namespace handoff::proxy
