#include "control/base/operation_runner.hpp"

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
    runner.run([&](const std::stop_token&) {
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
  runner.run([](const std::stop_token&) {});
  CHECK(runner.wait_idle(5s));
}

TEST_CASE("a stop request ends the operations' waits at once, and the runner joins them all") {
  std::atomic<int> stopped{0};
  const auto start = std::chrono::steady_clock::now();
  {
    OperationRunner runner;
    for (int i = 0; i < 2; ++i) {
      runner.run([&](const std::stop_token& stop) {
        if (wait_unless_stopped(stop, std::chrono::steady_clock::now() + 60s)) {
          ++stopped;
        }
      });
    }
    CHECK_FALSE(runner.wait_idle(50ms));
    runner.request_stop();
    CHECK(runner.wait_idle(5s));
    // One started after the request is stopped from the start.
    runner.run([&](const std::stop_token& stop) {
      if (wait_unless_stopped(stop, std::chrono::steady_clock::now() + 60s)) {
        ++stopped;
      }
    });
  }  // the destructor joins
  CHECK(stopped == 3);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("an unstopped wait lasts until its time") {
  std::stop_source never;
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(wait_unless_stopped(never.get_token(), start + 50ms));
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
}
