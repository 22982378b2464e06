#include "proxy/socket_write.hpp"

#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <string>

#include "tests/support/loopback_pair.hpp"

using namespace handoff::proxy;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

/// A loopback TCP connection: `ours` writes, `theirs` reads (or does not).
struct Connection {
  asio::io_context io;
  handoff::test::LoopbackPair pair = handoff::test::loopback_pair(io);
  tcp::socket& ours = pair.near;
  tcp::socket& theirs = pair.far;

  std::string read(std::size_t n) {
    std::string got(n, '\0');
    asio::read(theirs, asio::buffer(got));
    return got;
  }
};

}  // namespace

TEST_CASE("a write at once sends both parts with one call when the buffer has room") {
  Connection c;
  c.ours.non_blocking(true);
  boost::system::error_code ec;
  CHECK(write_at_once(c.ours, "head|", "body", ec) == 9);
  CHECK(!ec);
  CHECK(c.read(9) == "head|body");
  CHECK(write_at_once(c.ours, "", "only the second", ec) == 15);
  CHECK(c.read(15) == "only the second");
}

TEST_CASE("a write at once takes what a full buffer allows and leaves the rest") {
  Connection c;
  c.ours.non_blocking(true);
  const std::string big(64 << 20, 'x');  // far more than a socket buffer holds
  boost::system::error_code ec;
  const std::size_t n = write_at_once(c.ours, "head", big, ec);
  CHECK(!ec);
  CHECK(n > 4);
  CHECK(n < big.size());
  const auto [first, second] = unwritten("head", big, n);
  CHECK(first.empty());
  CHECK(second.size() == big.size() + 4 - n);
  // Nothing more fits until the peer reads: a full buffer is not an error.
  CHECK(write_at_once(c.ours, "", second, ec) == 0);
  CHECK(!ec);
}

TEST_CASE("what is left of two parts after some bytes went") {
  CHECK(unwritten("abc", "de", 0) == std::pair<std::string_view, std::string_view>{"abc", "de"});
  CHECK(unwritten("abc", "de", 2) == std::pair<std::string_view, std::string_view>{"c", "de"});
  CHECK(unwritten("abc", "de", 3) == std::pair<std::string_view, std::string_view>{"", "de"});
  CHECK(unwritten("abc", "de", 4) == std::pair<std::string_view, std::string_view>{"", "e"});
  CHECK(unwritten("abc", "de", 5) == std::pair<std::string_view, std::string_view>{"", ""});
}

TEST_CASE("a blocking or closed socket gets nothing written at once, and a reset is an error") {
  Connection c;
  boost::system::error_code ec;
  CHECK(write_at_once(c.ours, "x", "", ec) == 0);  // not in non-blocking mode: it could block
  CHECK(!ec);
  c.ours.non_blocking(true);
  c.theirs.set_option(asio::socket_base::linger(true, 0));
  c.theirs.close();  // a reset
  std::size_t sent = 0;
  for (int i = 0; i < 100 && !ec; ++i) {
    sent += write_at_once(c.ours, "after the reset", "", ec);
  }
  CHECK(ec);
  c.ours.close();
  ec = {};
  CHECK(write_at_once(c.ours, "x", "", ec) == 0);
}
