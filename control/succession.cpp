#include "control/succession.hpp"

#include <fmt/format.h>

namespace handoff::control {

TakeoverListener::Callbacks Succession::callbacks() {
  TakeoverListener::Callbacks c;
  c.offer = [this](std::chrono::milliseconds wait) -> std::optional<Handover> {
    std::optional<ProxyState> state = registry_.freeze(wait);
    if (!state) {
      return std::nullopt;
    }
    return Handover{state_to_json(*state), server_.listening_sockets()};
  };
  c.busy_reason = [this] { return registry_.busy_services(); };
  c.succeeded = [this](pid_t pid) {
    record(pid, SuccessionOutcome{true, {}});
    step_down_();
  };
  c.failed = [this](pid_t pid, const std::string& reason) {
    fmt::print(stderr, "handoff: process {} did not take over: {}; serving on\n", pid, reason);
    registry_.thaw();
    record(pid, SuccessionOutcome{false, reason});
  };
  return c;
}

void Succession::record(pid_t pid, SuccessionOutcome outcome) {
  std::lock_guard lock(mutex_);
  if (outcome.took_over) {
    successor_ = pid;
  }
  outcomes_[pid] = std::move(outcome);
  changed_.notify_all();
}

std::optional<SuccessionOutcome> Succession::outcome(pid_t pid,
                                                     std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, until, [&] { return outcomes_.count(pid) != 0; });
  if (auto it = outcomes_.find(pid); it != outcomes_.end()) {
    return it->second;
  }
  return std::nullopt;
}

pid_t Succession::successor() const {
  std::lock_guard lock(mutex_);
  return successor_;
}

void Succession::set_drain_timeout(std::chrono::milliseconds timeout) {
  std::lock_guard lock(mutex_);
  drain_timeout_ = timeout;
}

std::chrono::milliseconds Succession::drain_timeout() const {
  std::lock_guard lock(mutex_);
  return drain_timeout_.value_or(server_.config().shutdown_timeout);
}

}  // namespace handoff::control
