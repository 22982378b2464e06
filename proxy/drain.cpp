#include "proxy/drain.hpp"

#include <algorithm>

#include "proxy/upstream.hpp"

namespace handoff::proxy {

using Clock = std::chrono::steady_clock;

namespace {

constexpr Millis kProgressEvery{100};
// Closed exchanges leave their coroutines promptly; this bounds the wait for the count to
// settle after they were closed.
constexpr std::chrono::seconds kSettle{5};

}  // namespace

DrainResult drain_upstream(Upstream& old, Millis timeout, const DrainProgress& progress,
                           const CloseRemaining& close_remaining) {
  DrainResult result;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  const auto drained = [&old] { return old.in_flight() == 0; };
  bool done = drained();
  while (!done && Clock::now() < deadline) {
    if (progress) {
      progress(old.in_flight(), std::chrono::duration_cast<Millis>(Clock::now() - start));
    }
    done =
        old.drain_signal().wait_until(std::min(Clock::now() + kProgressEvery, deadline), drained);
  }
  if (!done) {
    result.clean = false;
    result.closed = close_remaining();
    old.drain_signal().wait_until(Clock::now() + kSettle, drained);
  }
  result.took = std::chrono::duration_cast<Millis>(Clock::now() - start);
  return result;
}

}  // namespace handoff::proxy
