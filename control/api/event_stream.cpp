#include "control/api/event_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <memory>

#include "proxy/nothrow.hpp"

namespace handoff::control {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Lines the channel holds before a sender waits for the reader.
constexpr std::size_t kCapacity = 1024;
// How long a sender waits for room before it drops a line: a reader that takes nothing for
// this long is gone (its connection's thread stopped at shutdown).
constexpr auto kSendPatience = std::chrono::seconds(5);

}  // namespace

EventStream::EventStream(asio::any_io_executor executor) : channel_(executor, kCapacity) {}

void EventStream::emit(json::object event) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  event["ts"] =
      static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) /
      1000.0;
  send(json::serialize(event) + "\n", false);
}

void EventStream::finish(json::object result, int status) {
  status_ = status;
  if (status != 200) {
    result["status"] = status;
  }
  send(json::serialize(result) + "\n", true);
}

void EventStream::send(std::string line, bool done) {
  if (channel_.try_send(boost::system::error_code{}, line, done)) {
    return;
  }
  // Full: the reader is behind. Wait for room rather than lose an event.
  auto sent =
      channel_.async_send(boost::system::error_code{}, std::move(line), done, asio::use_future);
  if (sent.wait_for(kSendPatience) != std::future_status::ready) {
    abandoned_ = true;
  }
}

// Moves what the channel holds now into `batch`; false when it held nothing.
bool EventStream::take_ready(Batch& batch) {
  bool any = false;
  while (!batch.done &&
         channel_.try_receive([&](boost::system::error_code, std::string line, bool done) {
           batch.lines.push_back(std::move(line));
           batch.done = done;
         })) {
    any = true;
  }
  return any;
}

asio::awaitable<EventStream::Batch> EventStream::next(std::chrono::steady_clock::duration quiet) {
  Batch batch;
  if (take_ready(batch)) {
    co_return batch;
  }
  // Wait for one line or for `quiet`, whichever comes first. The timer cancels the receive; a
  // receive that already has its line completes with it all the same, so none is lost. The
  // signal is shared with the timer's handler, which may run after this frame is gone.
  auto cancel = std::make_shared<asio::cancellation_signal>();
  asio::steady_timer timer(co_await asio::this_coro::executor, quiet);
  timer.async_wait([cancel](boost::system::error_code ec) {
    if (!ec) {
      cancel->emit(asio::cancellation_type::terminal);
    }
  });
  auto [ec, line, done] =
      co_await channel_.async_receive(asio::bind_cancellation_slot(cancel->slot(), nothrow));
  timer.cancel();
  cancel->slot().clear();
  if (!ec) {
    batch.lines.push_back(std::move(line));
    batch.done = done;
    take_ready(batch);
  }
  co_return batch;
}

void EventStream::delivered() {
  std::lock_guard lock(mutex_);
  delivered_ = true;
  delivered_cv_.notify_all();
}

void EventStream::wait_delivered(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  delivered_cv_.wait_for(lock, wait, [this] { return delivered_; });
}

}  // namespace handoff::control
