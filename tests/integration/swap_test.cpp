// Swap and drain: the in-process API the control plane uses, under real traffic.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>

#include "tests/support/eventually.hpp"
#include "tests/support/load_generator.hpp"
#include "tests/support/proxy_under_test.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {
// Answers with its name; `/slow` takes 600 ms.
TestBackend::Handler named(std::string name) {
  return [name](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target == "/slow") {
        std::this_thread::sleep_for(600ms);
      }
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(name.size()) + "\r\n\r\n" +
             name);
    }
  };
}
}  // namespace

TEST_CASE("a slow request finishes on the old upstream while new requests go to the new one") {
  TestBackend blue(named("blue"));
  TestBackend green(named("green"));
  ProxyUnderTest proxy(blue.address());

  auto slow = std::async(std::launch::async, [&] {
    return request_once(proxy.port(), "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  });
  REQUIRE(eventually([&] { return !blue.requests().empty(); }));
  auto retired = proxy.swap_to(green.address());
  REQUIRE(retired.size() == 1);
  auto old = retired.front();
  CHECK(old->address() == blue.address());
  CHECK(old->in_flight() == 1);

  // New requests, even on a connection opened before the swap, go to green.
  CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body == "green");

  auto start = std::chrono::steady_clock::now();
  auto result = proxy.server().drain(retired, 10s);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(result.clean);
  CHECK(result.closed == 0);
  CHECK(took < 2s);
  CHECK(old->in_flight() == 0);
  Response r = slow.get();
  CHECK(r.status == 200);
  CHECK(r.body == "blue");
  CHECK(blue.requests().size() == 1);
}

TEST_CASE("a keep-alive client connection is not pinned to an upstream") {
  TestBackend blue(named("blue"));
  TestBackend green(named("green"));
  ProxyUnderTest proxy(blue.address());
  SocketClient client(proxy.port());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().body == "blue");
  proxy.swap_to(green.address());
  client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(client.read_response().body == "green");
}

TEST_CASE("a storm of swaps under concurrent load loses no request") {
  TestBackend blue(named("blue"));
  TestBackend green(named("green"));
  ProxyUnderTest proxy(blue.address());
  LoadGenerator load(proxy.port());
  std::vector<std::vector<std::shared_ptr<handoff::proxy::Upstream>>> retired;
  for (int i = 0; i < 300; ++i) {
    retired.push_back(proxy.swap_to(i % 2 == 0 ? green.address() : blue.address()));
    std::this_thread::sleep_for(std::chrono::milliseconds(i % 5));
    if (i % 10 == 0) {
      // However fast or slow this machine is, requests keep running between the swaps.
      const int before = load.ok();
      eventually([&] { return load.ok() != before || load.failed() != 0; }, 10s, 1ms);
    }
  }
  for (auto& old : retired) {
    CHECK(proxy.server().drain(old, 5s).clean);
  }
  load.stop();
  MESSAGE("requests ok: " << load.ok() << ", failed: " << load.failed());
  CHECK(load.ok() >= 30);
  CHECK(load.failed() == 0);
  CHECK(load.bodies().size() == 2);  // both upstreams answered
}
