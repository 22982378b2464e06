#include "proxy/upstream/drain.hpp"

#include <algorithm>

#include "proxy/upstream/upstream.hpp"

namespace handoff::proxy {

using Clock = std::chrono::steady_clock;

namespace {

constexpr Millis kProgressEvery{100};
// Closed exchanges leave their coroutines promptly; this bounds the wait for the count to
// settle after they were closed.
constexpr std::chrono::seconds kSettle{5};

std::int64_t in_flight_on(const std::vector<std::shared_ptr<Upstream>>& old) {
  std::int64_t n = 0;
  for (const auto& member : old) {
    n += member->in_flight();
  }
  return n;
}

// Waits on each member's own signal in turn, until `until`: all are drained when the last
// one is. True when they all are.
bool wait_for_members(const std::vector<std::shared_ptr<Upstream>>& old, Clock::time_point until) {
  for (const auto& member : old) {
    Upstream& m = *member;
    if (!m.drain_signal().wait_until(until, [&m] { return m.in_flight() == 0; })) {
      return false;
    }
  }
  return true;
}

}  // namespace

DrainResult drain_upstreams(const std::vector<std::shared_ptr<Upstream>>& old, Millis timeout,
                            const DrainProgress& progress, const CloseRemaining& close_remaining) {
  DrainResult result;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  bool done = in_flight_on(old) == 0;
  while (!done && Clock::now() < deadline) {
    if (progress) {
      progress(in_flight_on(old), std::chrono::duration_cast<Millis>(Clock::now() - start));
    }
    done = wait_for_members(old, std::min(Clock::now() + kProgressEvery, deadline));
  }
  if (!done) {
    result.clean = false;
    result.closed = close_remaining();
    wait_for_members(old, Clock::now() + kSettle);
  }
  result.took = std::chrono::duration_cast<Millis>(Clock::now() - start);
  return result;
}

}  // namespace handoff::proxy
