#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace handoff::proxy {

/// A listening TCP socket by descriptor, and whether its clients speak TLS: what one handoff
/// process hands the next at an upgrade.
struct ListeningSocket {
  int fd = -1;
  bool tls = false;
};

/// Opens, binds and listens on `ep`; with `reuse_port`, SO_REUSEPORT lets every worker have an
/// acceptor of its own on the same address. Throws std::runtime_error naming the address.
boost::asio::ip::tcp::acceptor open_acceptor(boost::asio::io_context& io,
                                             const boost::asio::ip::tcp::endpoint& ep,
                                             bool reuse_port);

/// Takes ownership of `fd`, a listening TCP socket received from another process. Throws
/// std::runtime_error (and closes `fd`) when it is not one.
boost::asio::ip::tcp::acceptor adopt_acceptor(boost::asio::io_context& io, int fd);

}  // namespace handoff::proxy
