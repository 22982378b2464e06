#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>

#include "proxy/upstream/drain.hpp"

namespace handoff::proxy {

/// The open client connections over all workers, and a wake-up for whoever waits for the last
/// of them to close (the server at shutdown) instead of polling the count. A close rings only
/// while someone waits, so the data plane pays one load for it.
class ConnectionCount {
 public:
  /// Counts a new connection unless `limit` are open already; false (not counted) if so.
  bool try_open(std::size_t limit) {
    if (open_.fetch_add(1) >= limit) {
      close();
      return false;
    }
    return true;
  }
  /// Counts a closed connection, waking the waiter when it was the last one.
  void close() {
    // Sequentially consistent with the waiter's store and load: either this close sees the
    // waiter, or the waiter sees the count this close left.
    if (open_.fetch_sub(1) == 1 && waiting_.load()) {
      last_closed_.ring();
    }
  }
  /// The connections open now.
  [[nodiscard]] std::size_t open() const { return open_.load(std::memory_order_relaxed); }
  /// Waits until no connection is open, at most until `until`; true when none is.
  bool wait_until_none(std::chrono::steady_clock::time_point until) {
    waiting_.store(true);
    return last_closed_.wait_until(until, [this] { return open_.load() == 0; });
  }

 private:
  std::atomic<std::size_t> open_{0};
  std::atomic<bool> waiting_{false};
  DrainSignal last_closed_;
};

}  // namespace handoff::proxy
