#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "control/protocol/event_sink.hpp"

namespace handoff::control {

/// Carries a long operation's events, one NDJSON line each, from the operation's thread to the
/// control connection that reports them, through an Asio concurrent channel: the operation
/// sends (waiting for room when the reader is behind), the connection receives on the control
/// thread, with a timeout so that it can write heartbeats while the operation is quiet.
class EventStream : public EventSink {
 public:
  /// What one `next` brought.
  struct Batch {
    std::vector<std::string> lines;  ///< each ends with "\n"; none when the wait ran out
    bool done = false;               ///< the result line was among them: nothing follows
  };

  /// A stream whose reader runs on `executor`.
  explicit EventStream(boost::asio::any_io_executor executor);

  /// Sends an event, stamped with the time it happened ("ts", Unix seconds).
  void emit(boost::json::object event) override;
  /// Sends the result line; `status` is the HTTP status the result is answered with, stated
  /// in a failed result as "status".
  void finish(boost::json::object result, int status);

  /// Waits for the next lines, at most `quiet`.
  boost::asio::awaitable<Batch> next(std::chrono::steady_clock::duration quiet);
  /// The status `finish` was given (200 until then).
  [[nodiscard]] int status() const { return status_.load(); }

  /// Marks the reader as gone (see EventSink::abandoned).
  void abandon() { abandoned_ = true; }
  [[nodiscard]] bool abandoned() const override { return abandoned_.load(); }
  /// Says that the result was written to the client (or could not be: it left).
  void delivered();
  /// Waits (on the operation's thread) until the result was delivered, at most `wait`, so that
  /// a shutdown that waits for operations also lets their answers reach the clients.
  void wait_delivered(std::chrono::milliseconds wait);

 private:
  using Channel = boost::asio::experimental::concurrent_channel<void(boost::system::error_code,
                                                                     std::string, bool)>;

  void send(std::string line, bool done);
  bool take_ready(Batch& batch);

  Channel channel_;
  std::atomic<bool> abandoned_{false};
  std::atomic<int> status_{200};
  std::mutex mutex_;
  std::condition_variable delivered_cv_;
  bool delivered_ = false;
};

}  // namespace handoff::control
