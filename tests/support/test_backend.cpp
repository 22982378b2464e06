#include "tests/support/test_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "tests/support/fd_io.hpp"

namespace handoff::test {

std::string BackendRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

bool BackendConnection::fill() {
  return recv_append(fd_, buffer_);
}

std::optional<BackendRequest> BackendConnection::read_request() {
  std::size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) {
      return std::nullopt;
    }
  }
  BackendRequest r;
  r.raw_head = buffer_.substr(0, end + 4);
  buffer_.erase(0, end + 4);
  std::size_t line_end = r.raw_head.find("\r\n");
  std::string line = r.raw_head.substr(0, line_end);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = line.find(' ', sp1 + 1);
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::size_t pos = line_end + 2;
  while (pos < r.raw_head.size() - 2) {
    std::size_t e = r.raw_head.find("\r\n", pos);
    std::string field = r.raw_head.substr(pos, e - pos);
    pos = e + 2;
    auto colon = field.find(':');
    std::string name = field.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = field.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    r.headers.emplace(name, value);
  }
  auto need = [&](std::size_t n) {
    while (buffer_.size() < n) {
      if (!fill()) {
        return false;
      }
    }
    return true;
  };
  if (r.header("transfer-encoding").find("chunked") != std::string::npos) {
    while (true) {
      std::size_t le;
      while ((le = buffer_.find("\r\n")) == std::string::npos) {
        if (!fill()) {
          return std::nullopt;
        }
      }
      std::size_t size = std::stoul(buffer_.substr(0, le), nullptr, 16);
      r.raw_body += buffer_.substr(0, le + 2);
      buffer_.erase(0, le + 2);
      if (size == 0) {
        std::size_t te;
        while ((te = buffer_.find("\r\n\r\n")) == std::string::npos &&
               buffer_.rfind("\r\n", 0) != 0) {
          if (!fill()) {
            return std::nullopt;
          }
        }
        std::size_t trailer_end = buffer_.rfind("\r\n", 0) == 0 ? 2 : te + 4;
        r.raw_body += buffer_.substr(0, trailer_end);
        buffer_.erase(0, trailer_end);
        break;
      }
      if (!need(size + 2)) {
        return std::nullopt;
      }
      r.body += buffer_.substr(0, size);
      r.raw_body += buffer_.substr(0, size + 2);
      buffer_.erase(0, size + 2);
    }
  } else if (!r.header("content-length").empty()) {
    std::size_t n = std::stoul(r.header("content-length"));
    if (!need(n)) {
      return std::nullopt;
    }
    r.body = buffer_.substr(0, n);
    r.raw_body = r.body;
    buffer_.erase(0, n);
  }
  return r;
}

bool BackendConnection::send(std::string_view bytes) {
  return send_all(fd_, bytes);
}

std::string BackendConnection::read_some() {
  if (!buffer_.empty()) {
    return std::exchange(buffer_, {});
  }
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  return n <= 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

void BackendConnection::reset() {
  linger l{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::shutdown(fd_, SHUT_RDWR);
}

TestBackend::TestBackend(Handler handler, std::uint16_t port) : handler_(std::move(handler)) {
  // Close-on-exec: a handoff process started by the test must not hold the backend open.
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 1024) != 0) {
    throw std::runtime_error("test backend: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestBackend::~TestBackend() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  {
    std::lock_guard lock(mutex_);
    for (int fd : fds_) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  for (auto& t : threads_) {
    t.join();
  }
  for (int fd : fds_) {
    ::close(fd);
  }
}

std::string TestBackend::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

std::vector<BackendRequest> TestBackend::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void TestBackend::record(const BackendRequest& r) {
  std::lock_guard lock(mutex_);
  requests_.push_back(r);
}

void TestBackend::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) {
      continue;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++accepted_;
    std::lock_guard lock(mutex_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] {
      BackendConnection conn(fd);
      handler_(conn, *this);
      ::shutdown(fd, SHUT_WR);
    });
  }
}

void TestBackend::websocket_echo(BackendConnection& c, TestBackend& self) {
  auto r = c.read_request();
  if (!r) {
    return;
  }
  self.record(*r);
  c.send(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  while (true) {
    std::string data = c.read_some();
    if (data.empty() || !c.send(data)) {
      return;
    }
  }
}

TestBackend::Handler TestBackend::respond(std::string body, int status) {
  return [body = std::move(body), status](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      std::string head = "HTTP/1.1 " + std::to_string(status) +
                         (status == 200 ? " OK" : " Not OK") +
                         "\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nContent-Type: text/plain\r\n\r\n";
      if (!c.send(head + (r->method == "HEAD" ? std::string() : body))) {
        return;
      }
    }
  };
}

TestBackend::Handler TestBackend::bulk(std::size_t bytes) {
  return [bytes](BackendConnection& c, TestBackend&) {
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      std::string more = c.read_some();
      if (more.empty()) {
        return;
      }
      head += more;
    }
    std::size_t body_seen = head.size() - head.find("\r\n\r\n") - 4;
    if (head.rfind("PUT", 0) == 0) {
      while (body_seen < bytes) {
        std::string more = c.read_some();
        if (more.empty()) {
          return;
        }
        body_seen += more.size();
      }
      const std::string answer = std::to_string(body_seen);
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(answer.size()) + "\r\n\r\n" +
             answer);
      return;
    }
    c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(bytes) + "\r\n\r\n");
    const std::string block(1 << 20, 'd');
    for (std::size_t sent = 0; sent < bytes; sent += block.size()) {
      if (!c.send(block)) {
        return;
      }
    }
  };
}

}  // namespace handoff::test
