#include "proxy/routing/service.hpp"

#include <doctest/doctest.h>

#include <mutex>
#include <set>
#include <thread>

#include "proxy/address.hpp"
#include "tests/support/loopback_upstream.hpp"

using namespace handoff::proxy;

namespace {
std::shared_ptr<Upstream> upstream(std::uint16_t port) {
  return handoff::test::loopback_upstream(port);
}
std::shared_ptr<const UpstreamSet> one(std::uint16_t port) {
  return UpstreamSet::of(upstream(port));
}
}  // namespace

TEST_CASE("a swap moves new requests to the new upstream and counts in flight per upstream") {
  Service s("default", 2, one(1));
  InFlight first = s.acquire(0);
  REQUIRE(first);
  CHECK(first.get()->address() == "127.0.0.1:1");
  auto old = s.swap(one(2)).front();
  CHECK(old->retired());
  CHECK(old->in_flight() == 1);
  InFlight second = s.acquire(1);
  CHECK(second.get()->address() == "127.0.0.1:2");
  InFlight third = s.acquire(0);
  CHECK(third.get()->address() == "127.0.0.1:2");
  first = InFlight();
  CHECK(old->in_flight() == 0);
  CHECK(s.upstreams()->in_flight() == 2);
}

TEST_CASE("no request starts on an upstream once a drain after its swap has seen zero") {
  Service s("default", 2, one(1));
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
    auto old = s.swap(one(static_cast<std::uint16_t>(i + 2))).front();
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
