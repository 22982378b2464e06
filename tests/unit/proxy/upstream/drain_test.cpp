#include "proxy/upstream/drain.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>

#include "proxy/upstream/upstream.hpp"
#include "tests/support/loopback_upstream.hpp"

using namespace handoff::proxy;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<Upstream> upstream() {
  return handoff::test::loopback_upstream(1);
}

}  // namespace

TEST_CASE("a drain ends as soon as the last request on the retired upstream leaves") {
  auto old = upstream();
  old->enter(0);
  old->enter(1);
  old->retire();
  std::atomic<int> reports{0};
  auto drained = std::async(std::launch::async, [&] {
    return drain_upstreams(
        {old}, 10s, [&](std::int64_t, Millis) { ++reports; }, [] { return std::size_t{99}; });
  });
  std::this_thread::sleep_for(150ms);
  old->leave(0);
  CHECK(drained.wait_for(100ms) == std::future_status::timeout);
  old->leave(1);
  REQUIRE(drained.wait_for(1s) == std::future_status::ready);
  const DrainResult r = drained.get();
  CHECK(r.clean);
  CHECK(r.closed == 0);
  CHECK(r.took < 1s);
  CHECK(reports.load() >= 2);  // about every 100 ms while it waited
}

TEST_CASE("a drain that times out closes what remains and waits for it to leave") {
  auto old = upstream();
  old->enter(1);
  old->retire();
  bool closed = false;
  const DrainResult r = drain_upstreams({old}, 200ms, {}, [&] {
    closed = true;
    std::thread([old] {
      std::this_thread::sleep_for(50ms);
      old->leave(1);  // the closed exchange's coroutine ends a little later
    }).detach();
    return std::size_t{1};
  });
  CHECK(closed);
  CHECK_FALSE(r.clean);
  CHECK(r.closed == 1);
  CHECK(old->in_flight() == 0);
  CHECK(r.took >= 200ms);
  CHECK(r.took < 2s);
}

TEST_CASE("a drain of an upstream with nothing in flight returns at once") {
  auto old = upstream();
  old->retire();
  const DrainResult r = drain_upstreams({old}, 10s, {}, [] { return std::size_t{0}; });
  CHECK(r.clean);
  CHECK(r.took < 100ms);
}
