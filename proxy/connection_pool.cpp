#include "proxy/connection_pool.hpp"

#include <algorithm>

namespace handoff::proxy {

std::optional<boost::asio::ip::tcp::socket> ConnectionPool::take(std::uint64_t upstream_id) {
  for (Entry& e : entries_) {
    if (e.upstream_id == upstream_id && !e.idle.empty()) {
      boost::asio::ip::tcp::socket s = std::move(e.idle.back().socket);
      e.idle.pop_back();
      boost::system::error_code ignored;
      s.cancel(ignored);  // stops the watcher; its handler sees operation_aborted
      return s;
    }
  }
  return std::nullopt;
}

void ConnectionPool::put(std::uint64_t upstream_id, boost::asio::ip::tcp::socket socket,
                         Clock::time_point now) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.upstream_id == upstream_id; });
  if (it == entries_.end()) {
    entries_.push_back(Entry{upstream_id, {}});
    it = std::prev(entries_.end());
  }
  if (it->idle.size() < max_idle_) {
    it->idle.push_back(Idle{std::move(socket), now, ++next_serial_});
    watch(upstream_id, it->idle.back());
  }
}

void ConnectionPool::watch(std::uint64_t upstream_id, Idle& idle) {
  idle.socket.async_wait(boost::asio::ip::tcp::socket::wait_read,
                         [this, upstream_id, serial = idle.serial](boost::system::error_code ec) {
                           if (ec != boost::asio::error::operation_aborted) {
                             drop(upstream_id, serial);
                           }
                         });
}

void ConnectionPool::drop(std::uint64_t upstream_id, std::uint64_t serial) {
  for (Entry& e : entries_) {
    if (e.upstream_id == upstream_id) {
      std::erase_if(e.idle, [&](const Idle& i) { return i.serial == serial; });
    }
  }
}

void ConnectionPool::close(std::uint64_t upstream_id) {
  std::erase_if(entries_, [&](const Entry& e) { return e.upstream_id == upstream_id; });
}

void ConnectionPool::expire(Clock::time_point now) {
  for (Entry& e : entries_) {
    auto fresh = std::find_if(e.idle.begin(), e.idle.end(),
                              [&](const Idle& i) { return now - i.since < idle_timeout_; });
    e.idle.erase(e.idle.begin(), fresh);
  }
  std::erase_if(entries_, [](const Entry& e) { return e.idle.empty(); });
}

std::size_t ConnectionPool::size() const {
  std::size_t n = 0;
  for (const Entry& e : entries_) {
    n += e.idle.size();
  }
  return n;
}

}  // namespace handoff::proxy
