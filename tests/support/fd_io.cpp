#include "tests/support/fd_io.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace handoff::test {

bool send_all(int fd, std::string_view bytes, std::string* error) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (error != nullptr) {
        *error = n < 0 ? std::strerror(errno) : "closed";
      }
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool recv_append(int fd, std::string& buffer) {
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) {
    return false;
  }
  buffer.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace handoff::test
