#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

namespace handoff::proxy {

/// What became of a request that asked a capped member for a connection.
enum class Admission : std::uint8_t {
  taken,       ///< it holds a slot: give it back when its exchange ends
  queue_full,  ///< the queue was full: refused at once
  timed_out,   ///< it waited its queue timeout without a slot
};

/// The cap on a member's concurrent upstream connections in use (nginx `max_conns`, HAProxy
/// `maxconn`): a request over it waits in a bounded queue (HAProxy `timeout queue`) and slots
/// are handed over in arrival order as exchanges end, whatever worker they run on. Without a
/// cap (the default), taking a slot is a single check.
class ConnectionCap {
 public:
  using Clock = std::chrono::steady_clock;

  /// Caps the member at `limit` connections in use, with at most `max_queue` waiting; 0: no
  /// cap. May change while the member serves: a raised cap hands its new slots to those
  /// waiting at once; a lowered one takes effect as exchanges end.
  void configure(std::size_t limit, std::size_t max_queue);
  /// Whether a cap is set.
  [[nodiscard]] bool limited() const { return limit_.load(std::memory_order_relaxed) != 0; }
  /// Takes a slot when one is free and nobody waits for one.
  bool try_take();
  /// Takes a slot, waiting in the queue until `deadline` when none is free. On the calling
  /// coroutine's executor; a slot handed over wakes it from any thread.
  boost::asio::awaitable<Admission> take(Clock::time_point deadline);
  /// Gives a slot back: to the first request still waiting, else to the free slots.
  void give_back();
  /// Requests waiting now.
  [[nodiscard]] std::size_t queued() const { return queued_.load(std::memory_order_relaxed); }
  /// Requests refused so far: the queue was full, or they waited their whole queue timeout.
  [[nodiscard]] std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  /// Slots in use now.
  [[nodiscard]] std::size_t in_use() const { return taken_.load(std::memory_order_relaxed); }

 private:
  /// A request in the queue. `state` is decided once, by whoever comes first: the slot's giver
  /// (granted) or the request's own timer (timed out). `timer` is touched only on the waiter's
  /// executor, and is null once the waiting coroutine has moved on.
  struct Waiter {
    enum State : int { waiting, granted, timed_out };
    std::atomic<int> state{waiting};
    boost::asio::any_io_executor executor;
    boost::asio::steady_timer* timer = nullptr;
  };

  std::optional<Admission> enqueue_or_take(const std::shared_ptr<Waiter>& waiter);
  void leave_queue(const std::shared_ptr<Waiter>& waiter);

  void grant(std::shared_ptr<Waiter> waiter);

  std::atomic<std::size_t> limit_{0};
  std::size_t max_queue_ = 0;  // under the lock
  std::atomic<std::size_t> taken_{0};
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::mutex mutex_;  // guards `waiters_`, and `taken_` whenever the queue is involved
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace handoff::proxy
