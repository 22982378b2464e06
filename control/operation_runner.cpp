#include "control/operation_runner.hpp"

namespace handoff::control {

OperationRunner::~OperationRunner() {
  std::lock_guard lock(state_->mutex);
  join_finished();
  for (Entry& e : threads_) {
    e.thread.detach();  // still running past the shutdown timeout: it ends with the process
  }
}

void OperationRunner::run(std::function<void()> operation) {
  std::lock_guard lock(state_->mutex);
  join_finished();
  auto done = std::make_shared<std::atomic<bool>>(false);
  ++state_->running;
  threads_.push_back(Entry{std::thread([state = state_, op = std::move(operation), done] {
                             op();
                             std::lock_guard inner(state->mutex);
                             done->store(true);
                             if (--state->running == 0) {
                               state->idle.notify_all();
                             }
                           }),
                           done});
}

int OperationRunner::running() const {
  std::lock_guard lock(state_->mutex);
  return state_->running;
}

bool OperationRunner::wait_idle(std::chrono::milliseconds wait) {
  std::unique_lock lock(state_->mutex);
  const bool idle = state_->idle.wait_for(lock, wait, [this] { return state_->running == 0; });
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

}  // namespace handoff::control
