#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace handoff::control {

/// In a front container that took over from another: waits for the old container to stop
/// (once it drained), removes it (keeping the anonymous volumes both share), and gives this
/// container the old one's name, so that the service's front keeps its name across upgrades.
/// Runs on a thread of its own; stopped (mid-wait) when handoff stops.
class PredecessorRetirement {
 public:
  /// Starts retiring container `old_id` for container `own_id`.
  PredecessorRetirement(std::string old_id, std::string own_id);
  /// Stops waiting.
  ~PredecessorRetirement();
  PredecessorRetirement(const PredecessorRetirement&) = delete;
  PredecessorRetirement& operator=(const PredecessorRetirement&) = delete;

 private:
  void run();

  std::string old_id_;
  std::string own_id_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace handoff::control
