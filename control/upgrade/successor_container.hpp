#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "containers/docker_engine.hpp"
#include "control/upgrade/successor.hpp"

namespace handoff::control {

/// A new front container made to take over from the one this process runs in: the same
/// configuration as this container (command, environment, labels, mounts including the Docker
/// socket and anonymous volumes such as /run/handoff, network mode, restart policy), the new
/// image, and `--takeover`. It is named `NAME-next-TOKEN` until it takes this container's name
/// (see PredecessorRetirement).
class SuccessorContainer final : public Successor {
 public:
  /// Creates and starts it beside container `self` (pulling `image` when it is missing).
  /// Throws containers::EngineError or std::runtime_error.
  SuccessorContainer(std::unique_ptr<containers::DockerEngine> engine, const std::string& self,
                     const std::string& image);

  [[nodiscard]] const std::string& token() const override { return token_; }
  [[nodiscard]] std::string name() const override { return "container " + name_; }
  /// Its output is its own container log: nothing to copy.
  void copy_output() override {}
  std::optional<std::string> ended() override;
  /// Removes the container.
  void abandon() override;
  std::string last_lines() override;

 private:
  std::unique_ptr<containers::DockerEngine> engine_;
  std::string token_;
  std::string name_;
  std::string id_;
  std::chrono::steady_clock::time_point next_look_;  // the engine is asked twice a second
};

/// The body that creates a container like `inspected` (the engine's inspect answer) but from
/// `image`, running `--takeover` with `token`: what SuccessorContainer creates.
boost::json::object successor_container_body(const boost::json::object& inspected,
                                             const std::string& image, const std::string& token);

}  // namespace handoff::control
