#include "tests/support/socket_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tests/support/fd_io.hpp"
#include "tests/support/tls_client.hpp"

namespace handoff::test {

std::string Response::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

SocketClient::SocketClient(std::uint16_t port, std::chrono::milliseconds timeout,
                           const std::optional<std::string>& tls_name) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
  if (tls_name || is_tls_port(port)) {
    try {
      tls_ = std::make_unique<TlsClient>(fd_, tls_name.value_or("localhost"));
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
}

SocketClient::~SocketClient() {
  tls_.reset();
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool SocketClient::send(std::string_view bytes) {
  return tls_ ? tls_->send_all(bytes, &last_error_) : send_all(fd_, bytes, &last_error_);
}

bool SocketClient::fill() {
  char buf[65536];
  const long n = recv_some(buf, sizeof buf);
  if (n <= 0) {
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(n));
  return true;
}

long SocketClient::recv_some(char* into, std::size_t size) {
  return tls_ ? tls_->recv_some(into, size) : ::recv(fd_, into, size, 0);
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
    const long k = recv_some(buf, std::min(sizeof buf, n - got));
    if (k <= 0) {
      break;
    }
    got += static_cast<std::size_t>(k);
  }
  return got;
}

// Parses with Beast's response parser: an independent reading of what the proxy sent, so that a
// response the proxy frames wrongly fails the test instead of being read the proxy's way.
Response SocketClient::read_response(std::string_view method) {
  namespace http = boost::beast::http;
  Response r;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.eager(true);
  parser.skip(method == "HEAD");
  bool eof = false;
  while (!parser.is_done()) {
    boost::beast::error_code ec;
    if (!parser.is_header_done()) {
      // Keep the head exactly as it arrived, for tests that check its bytes.
      const std::size_t end = buffer_.find("\r\n\r\n");
      r.head = buffer_.substr(0, end == std::string::npos ? buffer_.size() : end + 4);
    }
    const std::size_t used = buffer_.empty() ? 0 : parser.put(boost::asio::buffer(buffer_), ec);
    buffer_.erase(0, used);
    if (ec && ec != http::error::need_more) {
      r.closed = true;  // malformed, as Beast reads it
      break;
    }
    if (used > 0 && !ec) {
      continue;
    }
    if (!fill()) {
      if (!parser.got_some()) {
        r.closed = true;
        return r;  // status 0: closed (or timed out) before any byte of an answer
      }
      parser.put_eof(ec);
      eof = true;
      r.closed = true;
      break;
    }
  }
  if (!parser.is_header_done()) {
    return r;  // status 0: no whole head arrived
  }
  const auto& msg = parser.get();
  r.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    r.headers.emplace(name, std::string(field.value()));
  }
  r.body = msg.body();
  r.body_bytes = r.body.size();
  r.closed = r.closed || eof || r.header("connection").find("close") != std::string::npos;
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
  if (tls_) {
    // A TLS peer that closes may send close_notify first: read it (and nothing else may come).
    return tls_->recv_some(&c, 1) <= 0;
  }
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

void SocketClient::shutdown_send() {
  if (tls_) {
    tls_->close_notify();
  }
  ::shutdown(fd_, SHUT_WR);
}

Response request_once(std::uint16_t port, std::string_view raw_request, std::string_view method) {
  SocketClient c(port);
  c.send(raw_request);
  return c.read_response(method);
}

}  // namespace handoff::test
