#pragma once

#include <chrono>
#include <thread>

namespace handoff::test {

/// Waits until `holds()` is true, looking every `every`, for at most `within`; returns whether
/// it holds. A test waits with it for the state it needs (a request at the backend, a status
/// field, a counter) instead of sleeping for a guessed time. A costly look (a TLS handshake, a
/// shell command) takes a longer `every`.
template <typename Predicate>
bool eventually(Predicate holds, std::chrono::milliseconds within = std::chrono::seconds(10),
                std::chrono::milliseconds every = std::chrono::milliseconds(5)) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (!holds()) {
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(every);
  }
  return true;
}

}  // namespace handoff::test
