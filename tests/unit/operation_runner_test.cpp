#include "control/operation_runner.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace handoff::control;
using namespace std::chrono_literals;

TEST_CASE("the runner counts its operations and is woken when the last one ends") {
  OperationRunner runner;
  std::atomic<bool> release{false};
  for (int i = 0; i < 3; ++i) {
    runner.run([&] {
      while (!release.load()) {
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  CHECK(runner.running() == 3);
  CHECK_FALSE(runner.wait_idle(50ms));
  const auto start = std::chrono::steady_clock::now();
  std::thread([&] {
    std::this_thread::sleep_for(30ms);
    release = true;
  }).join();
  CHECK(runner.wait_idle(5s));
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(runner.running() == 0);
}

TEST_CASE("a runner with nothing running is idle at once") {
  OperationRunner runner;
  CHECK(runner.wait_idle(0ms));
  runner.run([] {});
  CHECK(runner.wait_idle(5s));
}
