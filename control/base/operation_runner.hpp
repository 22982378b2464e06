#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

namespace handoff::control {

/// The threads the control server's long operations (deploy, swap, rollback, log follow) run
/// on, owned rather than detached: the runner knows how many run, `wait_idle` is woken when the
/// last one ends (not polled), `request_stop` asks every operation to stop at its next wait, and
/// the destructor asks them to stop and joins them all.
class OperationRunner {
 public:
  OperationRunner() = default;
  ~OperationRunner();
  OperationRunner(const OperationRunner&) = delete;
  OperationRunner& operator=(const OperationRunner&) = delete;

  /// Runs `operation` on a thread of its own; its argument says when it is asked to stop.
  void run(std::function<void(std::stop_token)> operation);
  /// Operations running now.
  [[nodiscard]] int running() const;
  /// Waits until no operation runs, at most `wait`; returns whether none does.
  bool wait_idle(std::chrono::milliseconds wait);
  /// Asks every operation, running or started later, to stop.
  void request_stop() { stop_.request_stop(); }

 private:
  struct Entry {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void join_finished();  // with mutex_ held

  mutable std::mutex mutex_;
  std::condition_variable idle_;
  int running_ = 0;
  std::stop_source stop_;
  std::list<Entry> threads_;
};

/// Waits until `until`, or less when `stop` is requested; returns whether it was. The waits of
/// a long operation (polls of the engine, pauses between probes) go through it, so that a
/// shutdown ends them at once instead of at their next poll.
bool wait_unless_stopped(const std::stop_token& stop, std::chrono::steady_clock::time_point until);

}  // namespace handoff::control
