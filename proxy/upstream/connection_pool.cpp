#include "proxy/upstream/connection_pool.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace handoff::proxy {

namespace {

// Whether an idle connection can carry a new request: nothing has arrived on it since its last
// response ended. One non-blocking peek: the check nginx makes with its read-event flag (Asio
// exposes no readiness flag, and watching each idle socket costs a system call as well).
bool still_clean(boost::asio::ip::tcp::socket& socket) {
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::optional<boost::asio::ip::tcp::socket> ConnectionPool::take(std::uint64_t upstream_id) {
  for (Entry& e : entries_) {
    if (e.upstream_id != upstream_id) {
      continue;
    }
    while (!e.idle.empty()) {
      boost::asio::ip::tcp::socket s = std::move(e.idle.back().socket);
      e.idle.pop_back();
      if (still_clean(s)) {
        return s;
      }
      // Stray bytes, an end of stream or an error: the connection is closed as it goes.
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
    it->idle.push_back(Idle{std::move(socket), now});
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

}  // namespace handoff::proxy
