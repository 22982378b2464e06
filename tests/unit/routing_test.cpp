#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "proxy/address.hpp"
#include "proxy/router.hpp"

using namespace handoff::proxy;

namespace {
std::shared_ptr<Upstream> upstream(std::uint16_t port) {
  return std::make_shared<Upstream>(
      "127.0.0.1:" + std::to_string(port),
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), 2);
}
}  // namespace

TEST_CASE("hosts route to services by exact name, wildcard, then default") {
  auto app = std::make_shared<Service>("app", 1, upstream(1));
  auto api = std::make_shared<Service>("api", 1, upstream(2));
  auto fallback = std::make_shared<Service>("default", 1, upstream(3));
  RouteTable table(
      {{app, {"app.example.com"}}, {api, {"*.api.example.com", "API.test"}}, {fallback, {}}});
  CHECK(table.find("app.example.com") == app.get());
  CHECK(table.find("App.Example.com:8080") == app.get());
  CHECK(table.find("v1.api.example.com") == api.get());
  CHECK(table.find("api.test") == api.get());
  CHECK(table.find("api.example.com") == fallback.get());
  CHECK(table.find("") == fallback.get());
  RouteTable no_default({{app, {"app.example.com"}}});
  CHECK(no_default.find("other") == nullptr);
}

TEST_CASE("a swap moves new requests to the new upstream and counts in flight per upstream") {
  Service s("default", 2, upstream(1));
  InFlight first = s.acquire(0);
  REQUIRE(first);
  CHECK(first.get()->address() == "127.0.0.1:1");
  auto old = s.swap(upstream(2));
  CHECK(old->retired());
  CHECK(old->in_flight() == 1);
  InFlight second = s.acquire(1);
  CHECK(second.get()->address() == "127.0.0.1:2");
  InFlight third = s.acquire(0);
  CHECK(third.get()->address() == "127.0.0.1:2");
  first = InFlight();
  CHECK(old->in_flight() == 0);
  CHECK(s.upstream()->in_flight() == 2);
}

TEST_CASE("an upstream counts how its requests ended, per worker, summed when read") {
  auto up = upstream(1);
  up->count_outcome(0, RequestOutcome::answered);
  up->count_outcome(1, RequestOutcome::answered);
  up->count_outcome(1, RequestOutcome::cut_at_drain);
  up->count_outcome(0, RequestOutcome::connect_error);
  const OutcomeCounts n = up->outcomes();
  CHECK(n[static_cast<std::size_t>(RequestOutcome::answered)] == 2);
  CHECK(n[static_cast<std::size_t>(RequestOutcome::cut_at_drain)] == 1);
  CHECK(n[static_cast<std::size_t>(RequestOutcome::connect_error)] == 1);
  CHECK(n[static_cast<std::size_t>(RequestOutcome::upstream_5xx)] == 0);
}

TEST_CASE("no request starts on an upstream once a drain after its swap has seen zero") {
  Service s("default", 2, upstream(1));
  std::atomic<bool> stop{false};
  std::atomic<int> late{0};
  std::atomic<int> acquired{0};
  std::set<const Upstream*> drained;
  std::mutex mutex;
  std::thread worker([&] {
    while (!stop) {
      InFlight f = s.acquire(0);
      ++acquired;
      std::lock_guard lock(mutex);
      late += drained.count(f.get()) > 0 ? 1 : 0;
    }
  });
  std::vector<std::shared_ptr<Upstream>> keep;  // no address is reused while the test runs
  for (int i = 0; i < 2000; ++i) {
    // Let the worker get a request in between swaps, so that the two really interleave.
    const int seen = acquired.load();
    while (acquired.load() == seen) {
      std::this_thread::yield();
    }
    auto old = s.swap(upstream(static_cast<std::uint16_t>(i + 2)));
    while (old->in_flight() > 0) {
      std::this_thread::yield();
    }
    std::lock_guard lock(mutex);
    drained.insert(old.get());
    keep.push_back(old);
  }
  stop = true;
  worker.join();
  CHECK(acquired > 0);
  CHECK(late == 0);
}

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

TEST_CASE("path prefixes: the longest match on a segment boundary wins, then wildcards, any host") {
  auto site = std::make_shared<Service>("site", 1, upstream(1));
  auto api = std::make_shared<Service>("api", 1, upstream(2));
  auto v2 = std::make_shared<Service>("v2", 1, upstream(3));
  auto assets = std::make_shared<Service>("assets", 1, upstream(4));
  auto fallback = std::make_shared<Service>("default", 1, upstream(5));
  RouteTable table({{site, {"example.com"}},
                    {api, {"example.com/api"}, true},
                    {v2, {"example.com/api/v2/"}},
                    {assets, {"/static"}},
                    {fallback, {}}});
  CHECK(table.match("example.com", "/").service == site.get());
  CHECK(table.match("example.com", "/apix").service == site.get());
  CHECK(table.match("example.com", "/api").service == api.get());
  CHECK(table.match("example.com", "/api").strip == 4);
  CHECK(table.match("example.com", "/api?q=1").service == api.get());
  CHECK(table.match("EXAMPLE.com:80", "/api/users").service == api.get());
  CHECK(table.match("example.com", "/api/v2/users").service == v2.get());
  CHECK(table.match("example.com", "/api/v2/users").strip == 0);
  CHECK(table.match("example.com", "/API").service == site.get());  // paths are case-sensitive
  CHECK(table.match("other.test", "/static/app.js").service == assets.get());
  CHECK(table.match("other.test", "/").service == fallback.get());
  CHECK(table.match("example.com", "/static/app.js").service == site.get());  // host first
  CHECK(table.find("example.com") == site.get());
}
