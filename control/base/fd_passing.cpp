#include "control/base/fd_passing.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace handoff::control {

namespace {

// Descriptors per sendmsg: below the kernel's SCM_MAX_FD (253).
constexpr std::size_t kFdsPerMessage = 250;
constexpr std::size_t kMaxText = 64 << 20;
// Frame bytes: a descriptor carrier, then the text's length and the text.
constexpr char kFdsByte = 'F';
constexpr char kTextByte = 'J';

std::runtime_error failure(std::string_view what) {
  return std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// Waits until `socket` is ready for `events`, or throws at the deadline.
void wait_ready(int socket, short events, Deadline deadline) {
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      throw std::runtime_error("timed out");
    }
    // Rounded up: a wait rounded down would wake before the deadline and give up early.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    pollfd p{socket, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1'000'000)));
    if (n > 0) {
      return;
    }
    if (n < 0 && errno != EINTR) {
      throw failure("poll");
    }
  }
}

void send_bytes(int socket, const char* data, std::size_t size, Deadline deadline) {
  while (size > 0) {
    wait_ready(socket, POLLOUT, deadline);
    const ssize_t n = ::send(socket, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n < 0) {
      throw failure("send");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void receive_bytes(int socket, char* data, std::size_t size, Deadline deadline) {
  while (size > 0) {
    wait_ready(socket, POLLIN, deadline);
    const ssize_t n = ::recv(socket, data, size, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n < 0) {
      throw failure("receive");
    }
    if (n == 0) {
      throw std::runtime_error("the other process closed the connection");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// One frame byte and the room for the descriptors that ride on it (one sendmsg/recvmsg).
struct FrameByte {
  char byte = 0;
  iovec iov{&byte, 1};
  std::array<char, CMSG_SPACE(sizeof(int) * kFdsPerMessage)> control{};
  msghdr msg{};

  explicit FrameByte(char value) : byte(value) {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
  }
  FrameByte(const FrameByte&) = delete;
  FrameByte& operator=(const FrameByte&) = delete;
};

void send_fds(int socket, const int* fds, std::size_t count, Deadline deadline) {
  FrameByte frame(kFdsByte);
  msghdr& msg = frame.msg;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * count);
  std::memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
  while (true) {
    wait_ready(socket, POLLOUT, deadline);
    const ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == 1) {
      return;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      throw failure("send descriptors");
    }
  }
}

// Reads one frame byte; descriptors that came with it are appended to `fds`.
char receive_frame_byte(int socket, std::vector<OwnedFd>& fds, Deadline deadline) {
  FrameByte frame(0);
  msghdr& msg = frame.msg;
  ssize_t n = -1;
  while (n < 0) {
    wait_ready(socket, POLLIN, deadline);
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      throw failure("receive");
    }
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);
      }
    }
  }
  if (n == 0) {
    throw std::runtime_error("the other process closed the connection");
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    throw std::runtime_error("too many descriptors in one message");
  }
  return frame.byte;
}

// The address of the unix socket at `path`; throws when the path is too long for one.
sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) {
    throw std::runtime_error(fmt::format("socket path is too long: {}", path));
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

}  // namespace

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int OwnedFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void OwnedFd::reset() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void send_message(int socket, std::string_view text, const std::vector<int>& fds,
                  Deadline deadline) {
  for (std::size_t i = 0; i < fds.size(); i += kFdsPerMessage) {
    send_fds(socket, fds.data() + i, std::min(kFdsPerMessage, fds.size() - i), deadline);
  }
  const auto size = static_cast<std::uint32_t>(text.size());
  const std::array<char, 5> header{kTextByte, static_cast<char>(size >> 24),
                                   static_cast<char>(size >> 16), static_cast<char>(size >> 8),
                                   static_cast<char>(size)};
  send_bytes(socket, header.data(), header.size(), deadline);
  send_bytes(socket, text.data(), text.size(), deadline);
}

FdMessage receive_message(int socket, Deadline deadline) {
  FdMessage message;
  char byte = 0;
  while ((byte = receive_frame_byte(socket, message.fds, deadline)) == kFdsByte) {
  }
  if (byte != kTextByte) {
    throw std::runtime_error("malformed message from the other process");
  }
  std::array<unsigned char, 4> length{};
  receive_bytes(socket, reinterpret_cast<char*>(length.data()), length.size(), deadline);
  const std::size_t size = (std::size_t{length[0]} << 24) | (std::size_t{length[1]} << 16) |
                           (std::size_t{length[2]} << 8) | length[3];
  if (size > kMaxText) {
    throw std::runtime_error("message from the other process is too large");
  }
  message.text.resize(size);
  receive_bytes(socket, message.text.data(), size, deadline);
  return message;
}

OwnedFd connect_unix(const std::string& path) {
  sockaddr_un address = unix_address(path);
  OwnedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw failure(fmt::format("cannot connect to {}", path));
  }
  return fd;
}

OwnedFd listen_unix(const std::string& path) {
  sockaddr_un address = unix_address(path);
  OwnedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const mode_t old_mask = ::umask(0177);  // no window in which others may connect
  const bool bound =
      fd.get() >= 0 && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::umask(old_mask);
  if (!bound || ::listen(fd.get(), 16) != 0) {
    throw failure(fmt::format("cannot listen on {}", path));
  }
  return fd;
}

long peer_uid(int socket) {
  ucred credentials{};
  socklen_t size = sizeof credentials;
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
    return -1;
  }
  return static_cast<long>(credentials.uid);
}

}  // namespace handoff::control
