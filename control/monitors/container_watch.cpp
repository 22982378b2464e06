#include "control/monitors/container_watch.hpp"

#include <fmt/format.h>

#include "control/base/operation_runner.hpp"

namespace handoff::control {

using Clock = std::chrono::steady_clock;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ContainerWatch::ContainerWatch(ServiceRegistry& registry, EngineFactory engines)
    : registry_(registry), engines_(std::move(engines)), since_(unix_now()) {}

void ContainerWatch::start() {
  thread_.start([this](const std::stop_token& stop) { run(stop); });
}

void ContainerWatch::stop() {
  thread_.stop();
}

void ContainerWatch::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    if (!registry_.deployed().empty()) {
      watch(stop);
    }
    wait_unless_stopped(stop, Clock::now() + kRetry);
  }
}

// One connection to the engine's event stream, until it ends, fails, or no service runs in
// containers any more.
void ContainerWatch::watch(const std::stop_token& stop) {
  const auto keep_going = [this, &stop] {
    return !stop.stop_requested() && !registry_.deployed().empty();
  };
  const auto died = [this](const std::string& id) {
    const std::optional<std::string> member = registry_.eject_container(id);
    if (member) {
      fmt::print(stderr, "handoff: {} ejected: its container stopped running\n", *member);
    }
  };
  try {
    std::unique_ptr<containers::Engine> engine = engines_();
    // From where the last stream ended (or handoff started): a container that died while
    // nobody watched is not missed.
    engine->watch_deaths("handoff.service", since_, died, keep_going);
    since_ = unix_now() - 1;  // a second back: the engine counts in seconds; twice is harmless
    last_error_.clear();
  } catch (const containers::EngineError& e) {
    if (last_error_ != e.what()) {
      last_error_ = e.what();
      fmt::print(stderr, "handoff: warning: cannot watch the engine for stopped containers: {}\n",
                 e.what());
    }
  }
}

}  // namespace handoff::control
