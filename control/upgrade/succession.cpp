#include "control/upgrade/succession.hpp"

#include <fmt/format.h>

#include "containers/own_container.hpp"

namespace handoff::control {

Succession::Succession(ServiceRegistry& registry, proxy::Server& server,
                       std::function<void()> step_down)
    : registry_(registry),
      server_(server),
      step_down_(std::move(step_down)),
      container_(containers::front_container_id()) {}

TakeoverListener::Callbacks Succession::callbacks() {
  TakeoverListener::Callbacks c;
  c.offer = [this](std::chrono::milliseconds wait) -> std::optional<Handover> {
    std::optional<ProxyState> state = registry_.freeze(wait);
    if (!state) {
      return std::nullopt;
    }
    return Handover{state_to_json(*state), server_.listening_sockets(), container_, metrics_};
  };
  c.busy_reason = [this] { return registry_.busy_services(); };
  c.succeeded = [this](const SuccessorId& who) {
    record(who, SuccessionOutcome{true, {}});
    step_down_();
  };
  c.failed = [this](const SuccessorId& who, const std::string& reason) {
    fmt::print(stderr, "handoff: process {} did not take over: {}; serving on\n", who.pid, reason);
    registry_.thaw();
    record(who, SuccessionOutcome{false, reason});
  };
  return c;
}

void Succession::record(const SuccessorId& who, SuccessionOutcome outcome) {
  std::lock_guard lock(mutex_);
  if (outcome.took_over) {
    successor_ = who.pid;
    took_over_ = true;
  }
  outcomes_[who.token] = std::move(outcome);
  changed_.notify_all();
}

std::optional<SuccessionOutcome> Succession::outcome(const std::string& token,
                                                     std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, until, [&] { return outcomes_.count(token) != 0; });
  if (auto it = outcomes_.find(token); it != outcomes_.end()) {
    return it->second;
  }
  return std::nullopt;
}

pid_t Succession::successor() const {
  std::lock_guard lock(mutex_);
  return successor_;
}

bool Succession::took_over() const {
  std::lock_guard lock(mutex_);
  return took_over_;
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
