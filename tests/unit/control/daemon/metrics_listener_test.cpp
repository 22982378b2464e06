#include "control/daemon/metrics_listener.hpp"

#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>

#include "tests/support/socket_client.hpp"

using namespace handoff::control;
using handoff::test::request_once;

TEST_CASE("the metrics listener serves GET /metrics only, rendered fresh for each scrape") {
  int scrapes = 0;
  MetricsListener listener(
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0),
      [&] { return "handoff_up " + std::to_string(++scrapes) + "\n"; });
  listener.start();
  const std::uint16_t port = listener.local_endpoint().port();
  const auto first = request_once(port, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n");
  CHECK(first.status == 200);
  CHECK(first.body == "handoff_up 1\n");
  CHECK(first.header("content-type").find("text/plain") != std::string::npos);
  CHECK(request_once(port, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n").body == "handoff_up 2\n");
  CHECK(request_once(port, "GET /v1/status HTTP/1.1\r\nHost: m\r\n\r\n").status == 404);
  CHECK(request_once(port, "DELETE /metrics HTTP/1.1\r\nHost: m\r\n\r\n").status == 405);
  // Malformed input gets a clear 400, as from any HTTP server, and the listener goes on.
  const auto bad = request_once(port, "NOT HTTP\r\n\r\n");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("bad request") != std::string::npos);
  CHECK(request_once(port, "GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n").status == 200);
}
