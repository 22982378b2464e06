#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "proxy/config.hpp"

namespace handoff::proxy {

/// One worker's idle keep-alive connections to upstreams, keyed by upstream id. Only its own
/// worker thread touches it, so it takes no lock. A connection is checked when it is taken: if
/// its upstream sent anything while it sat here (stray bytes after a response, or the close of
/// its own idle timeout), it is closed instead, so that no byte it sent can be read as the
/// answer to a later request.
class ConnectionPool {
 public:
  using Clock = std::chrono::steady_clock;

  /// Keeps at most `max_idle` connections per upstream, each for at most `idle_timeout`.
  ConnectionPool(std::size_t max_idle, Millis idle_timeout)
      : max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  /// The most recently used idle connection to the upstream that is still clean, if any.
  std::optional<boost::asio::ip::tcp::socket> take(std::uint64_t upstream_id);
  /// Keeps a connection whose exchange completed cleanly; closes it when the pool is full.
  void put(std::uint64_t upstream_id, boost::asio::ip::tcp::socket socket, Clock::time_point now);
  /// Closes every idle connection to the upstream (it was swapped out).
  void close(std::uint64_t upstream_id);
  /// Closes connections idle for longer than the idle timeout.
  void expire(Clock::time_point now);
  /// Closes everything.
  void clear() { entries_.clear(); }

 private:
  struct Idle {
    boost::asio::ip::tcp::socket socket;
    Clock::time_point since;
  };

  struct Entry {
    std::uint64_t upstream_id;
    std::vector<Idle> idle;  // oldest first
  };

  std::size_t max_idle_;
  Millis idle_timeout_;
  std::vector<Entry> entries_;
};

}  // namespace handoff::proxy
