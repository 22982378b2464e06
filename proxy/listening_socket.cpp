#include "proxy/listening_socket.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/v6_only.hpp>
#include <stdexcept>

#include "proxy/address.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// SO_REUSEPORT as a socket option (Asio's SettableSocketOption requirements; Asio has no
// public one).
class ReusePort {
 public:
  explicit ReusePort(bool on) : value_(on ? 1 : 0) {}
  template <typename Protocol>
  [[nodiscard]] int level(const Protocol& /*unused*/) const {
    return SOL_SOCKET;
  }
  template <typename Protocol>
  [[nodiscard]] int name(const Protocol& /*unused*/) const {
    return SO_REUSEPORT;
  }
  template <typename Protocol>
  [[nodiscard]] const int* data(const Protocol& /*unused*/) const {
    return &value_;
  }
  template <typename Protocol>
  [[nodiscard]] std::size_t size(const Protocol& /*unused*/) const {
    return sizeof value_;
  }

 private:
  int value_;
};

int int_option(int fd, int name) {
  int value = 0;
  socklen_t size = sizeof value;
  return ::getsockopt(fd, SOL_SOCKET, name, &value, &size) == 0 ? value : -1;
}

}  // namespace

tcp::acceptor open_acceptor(asio::io_context& io, const tcp::endpoint& ep, bool reuse_port) {
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec && ep.address().is_v6()) {
    acceptor.set_option(asio::ip::v6_only(true), ec);
  }
  if (!ec && reuse_port) {
    acceptor.set_option(ReusePort(true), ec);
  }
  if (!ec) {
    acceptor.bind(ep, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}: {}", format_endpoint(ep), ec.message()));
  }
  return acceptor;
}

tcp::acceptor adopt_acceptor(asio::io_context& io, int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  const bool named = ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  const bool inet = named && (address.ss_family == AF_INET || address.ss_family == AF_INET6);
  if (!inet || int_option(fd, SO_TYPE) != SOCK_STREAM || int_option(fd, SO_ACCEPTCONN) != 1) {
    ::close(fd);
    throw std::runtime_error(
        fmt::format("descriptor {} handed over is not a listening TCP socket", fd));
  }
  const tcp protocol = address.ss_family == AF_INET ? tcp::v4() : tcp::v6();
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  acceptor.assign(protocol, fd, ec);
  if (ec) {
    ::close(fd);
    throw std::runtime_error(fmt::format("cannot use a handed-over socket: {}", ec.message()));
  }
  return acceptor;
}

}  // namespace handoff::proxy
