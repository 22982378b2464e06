#pragma once

#include <memory>
#include <mutex>

namespace handoff::proxy {

/// A shared_ptr that one thread replaces while others read it. Readers take it only when a
/// generation counter tells them it changed (see Service and Router), so the short lock here is
/// never on the per-request path. (libstdc++'s std::atomic<std::shared_ptr> locks too, with a
/// spin bit that ThreadSanitizer cannot see; a mutex it can.)
template <typename T>
class SharedSlot {
 public:
  /// Holds `initial`.
  explicit SharedSlot(std::shared_ptr<T> initial) : value_(std::move(initial)) {}

  /// A copy of the current pointer.
  [[nodiscard]] std::shared_ptr<T> load() const {
    std::lock_guard lock(mutex_);
    return value_;
  }
  /// Replaces the pointer; returns the previous one.
  std::shared_ptr<T> exchange(std::shared_ptr<T> next) {
    std::lock_guard lock(mutex_);
    value_.swap(next);
    return next;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<T> value_;
};

}  // namespace handoff::proxy
