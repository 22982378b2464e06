#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <thread>

#include "control/base/background_thread.hpp"
#include "control/registry/service_registry.hpp"
#include "control/workflows/deploy_workflow.hpp"

namespace handoff::control {

/// Notices, within a second, a member whose container stopped running (crashed, killed,
/// stopped by hand): it follows the engine's event stream (`GET /events`, filtered to the
/// deaths of containers carrying handoff's labels) on a thread of its own and ejects the
/// member at once, without waiting for failed requests or checks. It connects only while some
/// service runs in containers, and reconnects after the stream breaks.
class ContainerWatch {
 public:
  /// How long it waits before reconnecting to an engine that failed or ended the stream.
  static constexpr std::chrono::seconds kRetry{1};

  /// Watches the containers of `registry`'s services on engines made by `engines`.
  ContainerWatch(ServiceRegistry& registry, EngineFactory engines);
  ContainerWatch(const ContainerWatch&) = delete;
  ContainerWatch& operator=(const ContainerWatch&) = delete;

  /// Starts the thread.
  void start();
  /// Stops it (within about a second: the stream is asked once a second) and joins it.
  void stop();

 private:
  void run(const std::stop_token& stop);
  void watch(const std::stop_token& stop);

  ServiceRegistry& registry_;
  EngineFactory engines_;
  std::string last_error_;   // reported once, not on every reconnect
  std::int64_t since_;       // unix seconds: the next stream replays the deaths from then on
  BackgroundThread thread_;  // last: joined before the other members go
};

}  // namespace handoff::control
