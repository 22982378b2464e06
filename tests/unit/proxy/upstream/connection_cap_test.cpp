#include "proxy/upstream/connection_cap.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>
#include <vector>

using namespace handoff::proxy;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Starts a request for a slot of `cap` on `io`; its admission lands in `out` when decided.
void ask(asio::io_context& io, ConnectionCap& cap, std::chrono::milliseconds wait,
         std::optional<Admission>& out) {
  asio::co_spawn(
      io,
      [&cap, wait, &out]() -> asio::awaitable<void> {
        out = co_await cap.take(ConnectionCap::Clock::now() + wait);
      },
      asio::detached);
}

}  // namespace

TEST_CASE("an uncapped member always has a slot") {
  ConnectionCap cap;
  CHECK_FALSE(cap.limited());
  for (int i = 0; i < 1000; ++i) {
    CHECK(cap.try_take());
  }
  cap.give_back();
  CHECK(cap.in_use() == 0);
}

TEST_CASE("requests over the cap queue in order, get slots as others end, and time out") {
  ConnectionCap cap;
  cap.configure(1, 2);
  asio::io_context io;
  std::optional<Admission> first, second, third, fourth;
  ask(io, cap, 10s, first);
  ask(io, cap, 10s, second);
  ask(io, cap, 10s, third);
  ask(io, cap, 10s, fourth);
  io.run_for(50ms);
  CHECK(first == Admission::taken);
  CHECK_FALSE(second.has_value());
  CHECK_FALSE(third.has_value());
  CHECK(fourth == Admission::queue_full);  // two wait already
  CHECK(cap.queued() == 2);
  cap.give_back();  // the first ends: the second, first in line, gets its slot
  io.run_for(50ms);
  CHECK(second == Admission::taken);
  CHECK_FALSE(third.has_value());
  CHECK(cap.in_use() == 1);
  CHECK_FALSE(cap.try_take());  // full, and nobody jumps the queue
  // The third waits its whole timeout: 503.
  std::optional<Admission> late;
  ask(io, cap, 30ms, late);
  io.run_for(200ms);
  CHECK(late == Admission::timed_out);
  cap.give_back();
  io.run_for(50ms);
  CHECK(third == Admission::taken);
  cap.give_back();
  CHECK(cap.in_use() == 0);
  CHECK(cap.queued() == 0);
  CHECK(cap.refused() == 2);  // the fourth and the late one
  CHECK(cap.try_take());
}

TEST_CASE("a slot given back on another thread wakes the waiter on its own") {
  ConnectionCap cap;
  cap.configure(2, 100);
  REQUIRE(cap.try_take());
  REQUIRE(cap.try_take());
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::vector<std::optional<Admission>> got(50);
  for (auto& g : got) {
    ask(io, cap, 10s, g);
  }
  std::thread worker([&io] { io.run(); });
  // This thread ends the 52 exchanges one by one, each once it holds a slot: a slot goes to
  // the next in line, or back to the free ones until a waiter takes it.
  for (int i = 0; i < 52; ++i) {
    while (cap.in_use() == 0) {
      std::this_thread::yield();
    }
    cap.give_back();
  }
  guard.reset();
  worker.join();
  for (const auto& g : got) {
    CHECK(g == Admission::taken);
  }
  CHECK(cap.in_use() == 0);
}
