#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "proxy/config.hpp"

namespace handoff::proxy {

class Upstream;

/// How a drain ended.
struct DrainResult {
  bool clean = true;       ///< every request finished before the timeout
  std::size_t closed = 0;  ///< exchanges closed at the timeout (slow requests, tunnels)
  Millis took{0};          ///< from the call until the in-flight count reached zero
};

/// Reports a drain's progress: requests still in flight, time since the drain began.
using DrainProgress = std::function<void(std::int64_t in_flight, Millis elapsed)>;

/// Closes every exchange still open on the drained upstream; returns how many it closed.
using CloseRemaining = std::function<std::size_t()>;

/// Wakes a drain when the last request on a swapped-out upstream ends, instead of the drain
/// polling the count. Only requests on a retired upstream ring it, so the data plane pays
/// nothing for it until a swap.
class DrainSignal {
 public:
  /// Wakes the drain (a request ended on the retired upstream).
  void ring() {
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }
  /// Waits until `drained()` is true or `until`; returns `drained()`.
  template <typename Predicate>
  bool wait_until(std::chrono::steady_clock::time_point until, Predicate drained) {
    std::unique_lock lock(mutex_);
    return cv_.wait_until(lock, until, drained);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
};

/// Waits until no request is in flight on any of `old` (which the swap has retired), at most
/// `timeout`, reporting progress about every 100 ms; then calls `close_remaining` for what is
/// still open and waits (up to 5 s) for those exchanges to leave. Blocks: control threads only.
DrainResult drain_upstreams(const std::vector<std::shared_ptr<Upstream>>& old, Millis timeout,
                            const DrainProgress& progress, const CloseRemaining& close_remaining);

}  // namespace handoff::proxy
