#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace handoff::test {

/// Both ends of one real loopback TCP connection.
struct LoopbackPair {
  boost::asio::ip::tcp::socket near;  ///< the end that connected (the code under test's)
  boost::asio::ip::tcp::socket far;   ///< the accepted end (the test's, to read, write or close)
};

/// A new loopback TCP connection on `io` (blocking connect and accept on 127.0.0.1).
inline LoopbackPair loopback_pair(boost::asio::io_context& io) {
  using boost::asio::ip::tcp;
  tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket near(io);
  near.connect(acceptor.local_endpoint());
  tcp::socket far = acceptor.accept();
  return {std::move(near), std::move(far)};
}

}  // namespace handoff::test
