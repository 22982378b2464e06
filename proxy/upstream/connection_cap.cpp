#include "proxy/upstream/connection_cap.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/nothrow.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;

void ConnectionCap::configure(std::size_t limit, std::size_t max_queue) {
  std::lock_guard lock(mutex_);
  limit_.store(limit, std::memory_order_relaxed);
  max_queue_ = max_queue;
  // Slots a raised cap (or its removal) frees go to those waiting, in order.
  while (!waiters_.empty() && (limit == 0 || taken_.load(std::memory_order_relaxed) < limit)) {
    std::shared_ptr<Waiter> next = std::move(waiters_.front());
    waiters_.pop_front();
    int expected = Waiter::waiting;
    if (next->state.compare_exchange_strong(expected, Waiter::granted)) {
      taken_.fetch_add(1, std::memory_order_acq_rel);
      grant(std::move(next));
    }
  }
  queued_.store(waiters_.size(), std::memory_order_release);
}

// Wakes a waiter whose state became `granted`: its coroutine runs on its own thread.
void ConnectionCap::grant(std::shared_ptr<Waiter> waiter) {
  asio::post(waiter->executor, [waiter] {
    if (waiter->timer != nullptr) {
      waiter->timer->cancel();
    }
  });
}

bool ConnectionCap::try_take() {
  if (!limited()) {
    return true;
  }
  if (queued_.load(std::memory_order_acquire) != 0) {
    return false;  // those waiting come first
  }
  const std::size_t limit = limit_.load(std::memory_order_relaxed);
  std::size_t taken = taken_.load(std::memory_order_relaxed);
  while (taken < limit) {
    if (taken_.compare_exchange_weak(taken, taken + 1, std::memory_order_acq_rel)) {
      return true;
    }
  }
  return false;
}

asio::awaitable<Admission> ConnectionCap::take(Clock::time_point deadline) {
  if (try_take()) {
    co_return Admission::taken;
  }
  auto waiter = std::make_shared<Waiter>();
  waiter->executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(waiter->executor);
  waiter->timer = &timer;
  if (const std::optional<Admission> now = enqueue_or_take(waiter)) {
    waiter->timer = nullptr;
    co_return *now;  // a slot freed meanwhile, or the queue is full
  }
  timer.expires_at(deadline);
  co_await timer.async_wait(nothrow);
  waiter->timer = nullptr;
  int expected = Waiter::waiting;
  if (!waiter->state.compare_exchange_strong(expected, Waiter::timed_out)) {
    co_return Admission::taken;  // a slot was handed over before the deadline won
  }
  leave_queue(waiter);
  refused_.fetch_add(1, std::memory_order_relaxed);
  co_return Admission::timed_out;
}

// Under the lock: takes a slot if one freed since `try_take`, refuses when the queue is full,
// or queues the waiter (empty: it must now wait).
std::optional<Admission> ConnectionCap::enqueue_or_take(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  const std::size_t limit = limit_.load(std::memory_order_relaxed);
  if (limit == 0 || (waiters_.empty() && taken_.load(std::memory_order_relaxed) < limit)) {
    taken_.fetch_add(1, std::memory_order_acq_rel);
    return Admission::taken;
  }
  if (waiters_.size() >= max_queue_) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return Admission::queue_full;
  }
  waiters_.push_back(waiter);
  queued_.store(waiters_.size(), std::memory_order_release);
  return std::nullopt;
}

void ConnectionCap::leave_queue(const std::shared_ptr<Waiter>& waiter) {
  std::lock_guard lock(mutex_);
  std::erase(waiters_, waiter);
  queued_.store(waiters_.size(), std::memory_order_release);
}

void ConnectionCap::give_back() {
  std::lock_guard lock(mutex_);
  // Over a cap lowered meanwhile, the slot is gone rather than handed over.
  while (!waiters_.empty() && taken_.load(std::memory_order_relaxed) <= limit_.load()) {
    std::shared_ptr<Waiter> next = std::move(waiters_.front());
    waiters_.pop_front();
    queued_.store(waiters_.size(), std::memory_order_release);
    int expected = Waiter::waiting;
    if (next->state.compare_exchange_strong(expected, Waiter::granted)) {
      grant(std::move(next));  // the slot passes to it as it is
      return;
    }
  }
  if (taken_.load(std::memory_order_relaxed) > 0) {
    taken_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace handoff::proxy
