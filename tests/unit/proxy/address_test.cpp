#include "proxy/address.hpp"

#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>

using namespace handoff::proxy;

TEST_CASE("addresses parse in IPv4, IPv6 and host-name forms") {
  CHECK(parse_host_port("127.0.0.1:80").port == 80);
  CHECK(parse_host_port("[::1]:8080").host == "::1");
  CHECK(parse_host_port("app.internal:9000").host == "app.internal");
  CHECK_THROWS_AS(parse_host_port("127.0.0.1"), std::invalid_argument);
  CHECK_THROWS_AS(parse_host_port("::1:80"), std::invalid_argument);
  CHECK_THROWS_AS(parse_host_port("a:99999"), std::invalid_argument);
  CHECK(format_endpoint(resolve_address("[::1]:5").front()) == "[::1]:5");
  CHECK(resolve_address("localhost:7").front().port() == 7);
}
