// An operation's events on their way to the control connection: order, batching, the result
// line, heartbeats when quiet without losing a line, and a sender faster than the reader.
#include "control/api/event_stream.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <thread>

using handoff::control::EventStream;
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

/// Reads `stream` on `io` until its result line; counts the empty batches (heartbeats).
struct Reader {
  std::vector<std::string> lines;
  int quiet_batches = 0;

  void read(asio::io_context& io, EventStream& stream, std::chrono::milliseconds quiet) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          while (true) {
            EventStream::Batch batch = co_await stream.next(quiet);
            quiet_batches += batch.lines.empty() ? 1 : 0;
            for (auto& l : batch.lines) {
              lines.push_back(std::move(l));
            }
            if (batch.done) {
              co_return;
            }
          }
        },
        asio::detached);
    io.run_for(20s);
  }
};

int step_of(const std::string& line) {
  return static_cast<int>(json::parse(line).at("n").as_int64());
}

}  // namespace

TEST_CASE("events arrive in order, stamped, and the result line ends the stream") {
  asio::io_context io;
  EventStream stream(io.get_executor());
  std::thread op([&] {
    for (int i = 0; i < 5; ++i) {
      stream.emit(json::object{{"n", i}});
    }
    stream.finish(json::object{{"result", "error"}, {"n", 5}}, 422);
  });
  Reader r;
  r.read(io, stream, 1s);
  op.join();
  REQUIRE(r.lines.size() == 6);
  for (int i = 0; i < 6; ++i) {
    CHECK(step_of(r.lines[i]) == i);
    CHECK(r.lines[i].back() == '\n');
  }
  CHECK(json::parse(r.lines[0]).as_object().contains("ts"));
  CHECK(json::parse(r.lines[5]).at("status") == 422);
  CHECK(stream.status() == 422);
}

TEST_CASE("a quiet stream gives empty batches for heartbeats and still loses no line") {
  asio::io_context io;
  EventStream stream(io.get_executor());
  std::thread op([&] {
    for (int i = 0; i < 20; ++i) {
      // Lines land just before, at and after the reader's timeouts.
      std::this_thread::sleep_for(std::chrono::milliseconds(7 + (i % 5)));
      stream.emit(json::object{{"n", i}});
    }
    std::this_thread::sleep_for(60ms);
    stream.finish(json::object{{"result", "ok"}, {"n", 20}}, 200);
  });
  Reader r;
  r.read(io, stream, 9ms);
  op.join();
  REQUIRE(r.lines.size() == 21);
  for (int i = 0; i < 21; ++i) {
    CHECK(step_of(r.lines[i]) == i);
  }
  CHECK(r.quiet_batches > 0);
  CHECK_FALSE(json::parse(r.lines.back()).as_object().contains("status"));
}

TEST_CASE("a sender far ahead of the reader waits for room, every line arrives in order") {
  asio::io_context io;
  EventStream stream(io.get_executor());
  constexpr int kLines = 5000;  // several times what the stream holds
  std::thread op([&] {
    for (int i = 0; i < kLines; ++i) {
      stream.emit(json::object{{"n", i}});
    }
    stream.finish(json::object{{"result", "ok"}, {"n", kLines}}, 200);
  });
  std::this_thread::sleep_for(100ms);  // the sender fills the stream before anyone reads
  Reader r;
  r.read(io, stream, 1s);
  op.join();
  REQUIRE(r.lines.size() == kLines + 1);
  for (int i = 0; i <= kLines; ++i) {
    REQUIRE(step_of(r.lines[i]) == i);
  }
  CHECK_FALSE(stream.abandoned());
}
