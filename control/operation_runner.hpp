#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace handoff::control {

/// The threads the control server's long operations (deploy, swap, rollback, log follow) run
/// on, owned rather than detached: the runner knows how many run, `wait_idle` is woken when the
/// last one ends (not polled), and finished threads are joined. An operation still running when
/// the runner is destroyed (the process is stopping past its shutdown timeout; a deploy step
/// cannot be cut in the middle) is left to end with the process.
class OperationRunner {
 public:
  OperationRunner() = default;
  ~OperationRunner();
  OperationRunner(const OperationRunner&) = delete;
  OperationRunner& operator=(const OperationRunner&) = delete;

  /// Runs `operation` on a thread of its own.
  void run(std::function<void()> operation);
  /// Operations running now.
  [[nodiscard]] int running() const;
  /// Waits until no operation runs, at most `wait`; returns whether none does.
  bool wait_idle(std::chrono::milliseconds wait);

 private:
  // Shared with the threads, which may outlive the runner (see the class comment).
  struct State {
    std::mutex mutex;
    std::condition_variable idle;
    int running = 0;
  };
  struct Entry {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void join_finished();  // with state_->mutex held

  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::list<Entry> threads_;
};

}  // namespace handoff::control
