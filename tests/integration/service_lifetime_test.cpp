// Objects a request uses across a suspension are owned for the request's lifetime: a control
// operation may replace the route table, and drop a service from it, while requests run.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "tests/support/eventually.hpp"
#include "tests/support/proxy_under_test.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"

using namespace handoff;
using namespace handoff::test;
using namespace std::chrono_literals;

TEST_CASE("a service removed while its request is in flight stays valid until the request ends") {
  TestBackend backend([](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target == "/slow") {
        std::this_thread::sleep_for(300ms);
      }
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  proxy::Router& router = proxy.server().router();
  auto doomed = std::make_shared<proxy::Service>(
      "doomed", 1, proxy::UpstreamSet::of(proxy.server().make_upstream(backend.address())));
  auto fallback = proxy.service().shared_from_this();
  router.replace(std::make_shared<const proxy::RouteTable>(std::vector<proxy::Route>{
      proxy::Route{fallback, {}}, proxy::Route{doomed, {"doomed.test"}}}));

  auto slow = std::async(std::launch::async, [&] {
    return request_once(proxy.port(), "GET /slow HTTP/1.1\r\nHost: doomed.test\r\n\r\n").status;
  });
  REQUIRE(eventually([&] { return !backend.requests().empty(); }));  // in flight on `doomed`
  router.replace(std::make_shared<const proxy::RouteTable>(
      std::vector<proxy::Route>{proxy::Route{fallback, {}}}));
  doomed.reset();  // the request is now the service's only owner
  // Traffic on the same worker makes it pick up the new table and drop the old one.
  CHECK(request_once(proxy.port(), "GET /other HTTP/1.1\r\nHost: a\r\n\r\n").status == 200);
  CHECK(slow.get() == 200);
  CHECK(request_once(proxy.port(), "GET /gone HTTP/1.1\r\nHost: doomed.test\r\n\r\n").status ==
        200);  // now served by `default`
}
