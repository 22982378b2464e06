#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "proxy/upstream/upstream.hpp"

namespace handoff::test {

/// An upstream at 127.0.0.1:`port` for a data plane of `threads` workers (nothing needs to
/// listen there for tests that only count and swap).
inline std::shared_ptr<proxy::Upstream> loopback_upstream(std::uint16_t port,
                                                          unsigned threads = 2) {
  return std::make_shared<proxy::Upstream>(
      "127.0.0.1:" + std::to_string(port),
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), threads);
}

}  // namespace handoff::test
