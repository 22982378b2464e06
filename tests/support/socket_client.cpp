#include "tests/support/socket_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tests/support/fd_io.hpp"

namespace handoff::test {

std::string Response::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

SocketClient::SocketClient(std::uint16_t port, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd_);
    throw std::runtime_error(std::string("connect: ") + std::strerror(err));
  }
}

SocketClient::~SocketClient() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool SocketClient::send(std::string_view bytes) {
  return send_all(fd_, bytes, &last_error_);
}

bool SocketClient::fill() {
  return recv_append(fd_, buffer_);
}

std::string SocketClient::take_line() {
  while (true) {
    auto pos = buffer_.find("\r\n");
    if (pos != std::string::npos) {
      std::string line = buffer_.substr(0, pos);
      buffer_.erase(0, pos + 2);
      return line;
    }
    if (!fill()) {
      throw std::runtime_error("connection closed mid-line");
    }
  }
}

std::string SocketClient::read_exact(std::size_t n) {
  while (buffer_.size() < n && fill()) {
  }
  std::string out = buffer_.substr(0, std::min(n, buffer_.size()));
  buffer_.erase(0, out.size());
  return out;
}

Response SocketClient::read_response_discarding_body() {
  Response r = read_response("HEAD");
  r.body_bytes = discard(std::stoul(r.header("content-length")));
  return r;
}

std::size_t SocketClient::discard(std::size_t n) {
  std::size_t got = std::min(n, buffer_.size());
  buffer_.erase(0, got);
  char buf[65536];
  while (got < n) {
    ssize_t k = ::recv(fd_, buf, std::min(sizeof buf, n - got), 0);
    if (k <= 0) {
      break;
    }
    got += static_cast<std::size_t>(k);
  }
  return got;
}

Response SocketClient::read_response(std::string_view method) {
  Response r;
  try {
    std::string status_line = take_line();
    if (status_line.size() < 12) {
      return r;
    }
    r.status = std::stoi(status_line.substr(9, 3));
    r.head = status_line + "\r\n";
    while (true) {
      std::string line = take_line();
      r.head += line + "\r\n";
      if (line.empty()) {
        break;
      }
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      r.headers.emplace(name, value);
    }
    const bool no_body = method == "HEAD" || r.status < 200 || r.status == 204 || r.status == 304;
    std::string te = r.header("transfer-encoding");
    std::string cl = r.header("content-length");
    if (no_body) {
    } else if (te.find("chunked") != std::string::npos) {
      while (true) {
        std::string size_line = take_line();
        std::size_t size = std::stoul(size_line, nullptr, 16);
        if (size == 0) {
          while (!take_line().empty()) {
          }
          break;
        }
        r.body += read_exact(size);
        take_line();
      }
    } else if (!cl.empty()) {
      r.body = read_exact(std::stoul(cl));
    } else {
      r.body = read_until_close();
      r.closed = true;
    }
    r.body_bytes = r.body.size();
    std::string conn = r.header("connection");
    if (conn.find("close") != std::string::npos) {
      r.closed = true;
    }
  } catch (const std::exception&) {
    r.closed = true;
  }
  return r;
}

std::string SocketClient::read_until_close() {
  while (fill()) {
  }
  std::string out = std::move(buffer_);
  buffer_.clear();
  return out;
}

bool SocketClient::closed_by_peer(std::chrono::milliseconds wait) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
    return false;
  }
  char c;
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

void SocketClient::shutdown_send() {
  ::shutdown(fd_, SHUT_WR);
}

Response request_once(std::uint16_t port, std::string_view raw_request, std::string_view method) {
  SocketClient c(port);
  c.send(raw_request);
  return c.read_response(method);
}

}  // namespace handoff::test
