// What a swap reports it cost: checked against the requests the test itself sent to each
// version, one by one, while the workflow ran.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <future>
#include <thread>

#include "tests/support/eventually.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// Answers its name; /fail answers 500; /hang answers only after 3 s. /up (the health check)
// waits until `healthy` is set.
TestBackend::Handler version(std::string name, const std::atomic<bool>& healthy) {
  return [name, &healthy](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target == "/hang") {
        std::this_thread::sleep_for(3s);
      }
      while (r->target == "/up" && !healthy.load()) {
        std::this_thread::sleep_for(10ms);
      }
      const int status = r->target == "/fail" ? 500 : 200;
      c.send("HTTP/1.1 " + std::to_string(status) +
             " X\r\nContent-Length: " + std::to_string(name.size()) + "\r\n\r\n" + name);
    }
  };
}

int status_of(std::uint16_t port, const std::string& path) {
  return request_once(port, "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n").status;
}

std::string body_of(std::uint16_t port) {
  return request_once(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").body;
}

// The result event: the last line of the operation's NDJSON stream.
json::object result_of(const UnixResponse& r) {
  std::string_view body = r.body;
  while (!body.empty() && body.back() == '\n') {
    body.remove_suffix(1);
  }
  return json::parse(body.substr(body.rfind('\n') + 1)).as_object();
}

std::int64_t at(const json::object& o, std::string_view a, std::string_view b) {
  return o.at(a).as_object().at(b).to_number<std::int64_t>();
}

// Calls `ready` until it is true (at most 5 s); it may count what it does.
bool wait_until(const std::function<bool()>& ready) {
  return eventually(ready, 5s);
}

}  // namespace

TEST_CASE("a swap reports the requests each version answered while it ran, and failures by why") {
  std::atomic<bool> always{true};
  std::atomic<bool> green_healthy{false};
  TestBackend blue(version("blue", always));
  TestBackend green(version("green", green_healthy));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  for (int i = 0; i < 10; ++i) {  // before the swap begins: not the swap's cost
    CHECK(status_of(proxy.port(), i == 0 ? "/fail" : "/") == (i == 0 ? 500 : 200));
  }
  auto hanging = std::async(std::launch::async, [&] { return status_of(proxy.port(), "/hang"); });
  REQUIRE(wait_until([&] { return blue.requests().size() == 11; }));

  auto swap = std::async(std::launch::async, [&] {
    return unix_request(
        proxy.control(), "POST", "/v1/services/default/swap",
        R"({"to":")" + green.address() + R"(","health_interval":"50ms","drain_timeout":"1500ms"})");
  });
  // While the health gate waits: 5 answered and 2 failing requests on the old version.
  REQUIRE(wait_until([&] { return !green.requests().empty(); }));
  for (int i = 0; i < 7; ++i) {
    CHECK(status_of(proxy.port(), i < 2 ? "/fail" : "/") == (i < 2 ? 500 : 200));
  }
  green_healthy = true;
  // During the drain (the hanging request holds it until its timeout): the new version.
  int on_green = 0;
  REQUIRE(wait_until([&] {
    const bool switched = body_of(proxy.port()) == "green";
    on_green += switched ? 1 : 0;
    return switched;
  }));
  for (int i = 0; i < 4; ++i) {
    CHECK(status_of(proxy.port(), i == 0 ? "/fail" : "/") == (i == 0 ? 500 : 200));
  }
  const UnixResponse r = swap.get();
  CHECK(hanging.get() == 0);  // closed at the drain timeout: no answer
  REQUIRE(r.status == 200);
  const json::object result = result_of(r);
  REQUIRE(result.at("result") == "ok");
  const json::object& cost = result.at("cost").as_object();
  INFO(json::serialize(cost));
  // Blue: 5 answered, 2 upstream 5xx, the hanging request cut. Blue's polls in `wait_until`
  // before the switch are answered by blue too, so count them from what blue received.
  const auto blue_seen = static_cast<std::int64_t>(blue.requests().size()) - 11;
  CHECK(at(cost, "old", "upstream_5xx") == 2);
  CHECK(at(cost, "old", "cut_at_drain") == 1);
  CHECK(at(cost, "old", "answered") == blue_seen - 2);
  CHECK(at(cost, "old", "failed") == 3);
  CHECK(at(cost, "new", "answered") == on_green + 3);
  CHECK(at(cost, "new", "upstream_5xx") == 1);
  CHECK(at(cost, "new", "failed") == 1);
  const json::object& latency = cost.at("latency").as_object();
  // Durations are split by time: green's requests finished after the switch, and so did at
  // most one of blue's (a poll in flight across it); every other one before.
  const std::int64_t before = at(latency, "before", "requests");
  const std::int64_t after = at(latency, "after", "requests");
  CHECK(before + after == 10 + blue_seen + on_green + 4);
  CHECK(after >= on_green + 4);
  CHECK(after <= on_green + 5);
  CHECK(latency.at("before").as_object().at("p99_ms").to_number<double>() > 0);
  CHECK(latency.at("after").as_object().at("p50_ms").to_number<double>() > 0);
}

TEST_CASE("requests to a new version that refuses connections are reported as connect errors") {
  std::atomic<bool> always{true};
  TestBackend blue(version("blue", always));
  std::string dead;
  {
    TestBackend gone(version("gone", always));
    dead = gone.address();
  }
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", blue.address()});
  auto hanging = std::async(std::launch::async, [&] { return status_of(proxy.port(), "/hang"); });
  REQUIRE(wait_until([&] { return blue.requests().size() == 1; }));
  auto swap = std::async(std::launch::async, [&] {
    return unix_request(proxy.control(), "POST", "/v1/services/default/swap",
                        R"({"to":")" + dead + R"(","health_check":false,"drain_timeout":"1s"})");
  });
  int refused = 0;
  REQUIRE(wait_until([&] {
    refused += status_of(proxy.port(), "/") == 502 ? 1 : 0;
    return refused == 3;
  }));
  const json::object result = result_of(swap.get());
  hanging.get();
  const json::object& cost = result.at("cost").as_object();
  INFO(json::serialize(cost));
  CHECK(at(cost, "new", "connect_errors") == 3);
  CHECK(at(cost, "new", "answered") == 0);
  CHECK(at(cost, "old", "cut_at_drain") == 1);
}
