#pragma once

#include <functional>
#include <stop_token>
#include <thread>

namespace handoff::control {

/// The thread a control-plane service (health monitor, container watch, canary monitor, ACME
/// manager) loops on. Declared as its owner's last member, it is asked to stop and joined
/// before any other member goes away, so the loop never sees a half-destroyed owner.
class BackgroundThread {
 public:
  BackgroundThread() = default;
  ~BackgroundThread() { stop(); }
  BackgroundThread(const BackgroundThread&) = delete;
  BackgroundThread& operator=(const BackgroundThread&) = delete;

  /// Runs `loop` on a new thread; its argument says when to stop.
  void start(std::function<void(const std::stop_token&)> loop) {
    thread_ = std::jthread(std::move(loop));
  }
  /// Asks the loop to stop and waits for it; nothing when it is not running.
  void stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }

 private:
  std::jthread thread_;
};

}  // namespace handoff::control
