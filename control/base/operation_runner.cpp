#include "control/base/operation_runner.hpp"

namespace handoff::control {

OperationRunner::~OperationRunner() {
  request_stop();
  std::list<Entry> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (Entry& e : threads) {
    e.thread.join();  // each stops at its next wait; a call in progress ends at its own timeout
  }
}

void OperationRunner::run(std::function<void(std::stop_token)> operation) {
  std::lock_guard lock(mutex_);
  join_finished();
  auto done = std::make_shared<std::atomic<bool>>(false);
  ++running_;
  threads_.push_back(
      Entry{std::thread([this, op = std::move(operation), done, stop = stop_.get_token()] {
              op(stop);
              std::lock_guard inner(mutex_);
              done->store(true);
              if (--running_ == 0) {
                idle_.notify_all();
              }
            }),
            done});
}

int OperationRunner::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

bool OperationRunner::wait_idle(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  const bool idle = idle_.wait_for(lock, wait, [this] { return running_ == 0; });
  join_finished();
  return idle;
}

void OperationRunner::join_finished() {
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->done->load()) {
      it->thread.join();  // it has set `done` and only releases the mutex now: a short wait
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

bool wait_unless_stopped(const std::stop_token& stop, std::chrono::steady_clock::time_point until) {
  std::mutex mutex;
  std::condition_variable_any woken;
  std::unique_lock lock(mutex);
  // Woken only by a stop request: the predicate is the stop itself.
  woken.wait_until(lock, stop, until, [] { return false; });
  return stop.stop_requested();
}

}  // namespace handoff::control
