#include "tests/support/unix_http.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace handoff::test {

UnixResponse unix_request(const std::string& socket_path, std::string_view method,
                          std::string_view target, std::string_view body,
                          std::string_view extra_headers) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to " + socket_path);
  }
  std::string req = std::string(method) + " " + std::string(target) +
                    " HTTP/1.1\r\nHost: handoff\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n" + std::string(extra_headers) + "\r\n" +
                    std::string(body);
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[8192];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  UnixResponse r;
  if (raw.size() < 12) {
    return r;
  }
  r.status = std::stoi(raw.substr(9, 3));
  std::size_t head_end = raw.find("\r\n\r\n");
  std::string head = raw.substr(0, head_end);
  std::string rest = raw.substr(head_end + 4);
  if (head.find("chunked") != std::string::npos) {
    std::size_t pos = 0;
    while (pos < rest.size()) {
      std::size_t le = rest.find("\r\n", pos);
      std::size_t size = std::stoul(rest.substr(pos, le - pos), nullptr, 16);
      if (size == 0) {
        break;
      }
      r.body += rest.substr(le + 2, size);
      pos = le + 2 + size + 2;
    }
  } else {
    r.body = rest;
  }
  return r;
}

}  // namespace handoff::test
