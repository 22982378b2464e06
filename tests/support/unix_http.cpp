#include "tests/support/unix_http.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace handoff::test {

UnixResponse unix_request(const std::string& socket_path, std::string_view method,
                          std::string_view target, std::string_view body,
                          std::string_view extra_headers) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
  // Parsed by Beast: an independent reading of the control server's framing.
  namespace http = boost::beast::http;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view rest = raw;
  while (!rest.empty() && !parser.is_done()) {
    const std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec || used == 0) {
      break;
    }
  }
  if (!parser.is_done() && parser.got_some()) {
    parser.put_eof(ec);
  }
  UnixResponse r;
  if (parser.got_some() && parser.is_header_done()) {  // (an empty stream is "done" to Beast)
    r.status = static_cast<int>(parser.get().result_int());
    r.body = parser.get().body();
  }
  return r;
}

}  // namespace handoff::test
