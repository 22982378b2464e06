#include "tests/support/fd_io.hpp"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace handoff::test {

namespace {

// HANDOFF_TEST_SPLIT_SENDS=1 makes every message a test sends arrive in pieces: each send of
// up to 64 KiB is cut at one or two pseudo-random points, with a pause between the pieces, so
// that the proxy reads it in several reads. The suite run this way must behave exactly as
// when messages arrive whole.
bool split_sends() {
  static const bool on = std::getenv("HANDOFF_TEST_SPLIT_SENDS") != nullptr;
  return on;
}

std::size_t next_cut(std::size_t size) {
  static std::atomic<std::uint64_t> state{0x9e3779b97f4a7c15ULL};
  std::uint64_t x = state.fetch_add(0x9e3779b97f4a7c15ULL) + 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ULL;
  return 1 + static_cast<std::size_t>((x ^ (x >> 29)) % (size - 1));
}

bool send_whole(int fd, std::string_view bytes, std::string* error);

}  // namespace

std::vector<std::size_t> send_cuts(std::size_t size) {
  if (!split_sends() || size < 2 || size > 65536) {
    return {size};
  }
  const std::size_t first = next_cut(size);
  std::vector<std::size_t> cuts{first};
  if (first + 1 < size) {
    cuts.push_back(first + next_cut(size - first));
  }
  cuts.push_back(size);
  return cuts;
}

bool send_all(int fd, std::string_view bytes, std::string* error) {
  std::size_t from = 0;
  for (const std::size_t to : send_cuts(bytes.size())) {
    if (to <= from) {
      continue;
    }
    if (from > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!send_whole(fd, bytes.substr(from, to - from), error)) {
      return false;
    }
    from = to;
  }
  return true;
}

namespace {

bool send_whole(int fd, std::string_view bytes, std::string* error) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (error != nullptr) {
        *error = n < 0 ? std::strerror(errno) : "closed";
      }
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

bool recv_append(int fd, std::string& buffer) {
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) {
    return false;
  }
  buffer.append(buf, static_cast<std::size_t>(n));
  return true;
}

}  // namespace handoff::test
