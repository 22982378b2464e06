#include "proxy/upstream/connection_pool.hpp"

#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <thread>

#include "tests/support/loopback_pair.hpp"

using namespace handoff::proxy;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

/// Real loopback connections: the client ends go into the pool, the server ends stay here so
/// that a test can make the "upstream" send or close.
struct Loopback {
  asio::io_context io;
  std::vector<tcp::socket> upstream_ends;

  tcp::socket connect() {
    handoff::test::LoopbackPair pair = handoff::test::loopback_pair(io);
    upstream_ends.push_back(std::move(pair.far));
    return std::move(pair.near);
  }
};

}  // namespace

TEST_CASE("a pool hands back the most recent idle connection of the same upstream only") {
  Loopback net;
  ConnectionPool pool(4, 10s);
  const auto now = ConnectionPool::Clock::now();
  tcp::socket a = net.connect();
  tcp::socket b = net.connect();
  const auto b_port = b.local_endpoint().port();
  pool.put(1, std::move(a), now);
  pool.put(1, std::move(b), now);
  CHECK_FALSE(pool.take(2).has_value());
  auto taken = pool.take(1);
  REQUIRE(taken.has_value());
  CHECK(taken->local_endpoint().port() == b_port);
  CHECK(pool.take(1).has_value());
  CHECK_FALSE(pool.take(1).has_value());
}

TEST_CASE("a pooled connection whose upstream sent bytes or closed is never handed out") {
  Loopback net;
  ConnectionPool pool(4, 10s);
  const auto now = ConnectionPool::Clock::now();
  pool.put(1, net.connect(), now);
  asio::write(net.upstream_ends.back(), asio::buffer(std::string("HTTP/1.1 200 OK\r\n\r\n")));
  pool.put(2, net.connect(), now);
  net.upstream_ends.back().close();
  std::this_thread::sleep_for(50ms);  // the bytes and the FIN reach the pooled sockets
  CHECK_FALSE(pool.take(1).has_value());
  CHECK_FALSE(pool.take(2).has_value());
}

TEST_CASE("a pool keeps at most its limit, expires idle connections and closes by upstream") {
  Loopback net;
  ConnectionPool pool(2, 1s);
  const auto now = ConnectionPool::Clock::now();
  for (int i = 0; i < 3; ++i) {
    pool.put(1, net.connect(), now);
  }
  pool.put(2, net.connect(), now);
  pool.put(3, net.connect(), now + 2s);
  CHECK(pool.take(1).has_value());
  CHECK(pool.take(1).has_value());
  CHECK_FALSE(pool.take(1).has_value());  // the third was closed: over the limit
  pool.expire(now + 1500ms);
  CHECK_FALSE(pool.take(2).has_value());  // idle too long
  pool.close(3);
  CHECK_FALSE(pool.take(3).has_value());
}
