#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>
#include <thread>

namespace handoff::control {

/// Serves `GET /metrics` over plain HTTP on a TCP address (`--metrics-listen`), so that
/// Prometheus can scrape the proxy without access to the control socket. Read-only: every other
/// request gets 404 or 405. Runs on a thread of its own.
class MetricsListener {
 public:
  /// Binds `endpoint` (throws std::runtime_error naming it); `render` makes the text.
  MetricsListener(const boost::asio::ip::tcp::endpoint& endpoint,
                  std::function<std::string()> render);
  /// Serves on `fd`, a listening socket handed over by the process this one took over from
  /// (throws std::runtime_error when it is not one).
  MetricsListener(int fd, std::function<std::string()> render);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  /// Starts serving.
  void start();
  /// The listening socket (owned here), to hand to a successor.
  [[nodiscard]] int native_handle() { return acceptor_.native_handle(); }
  /// The address actually bound.
  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  std::function<std::string()> render_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace handoff::control
