#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace handoff::test {

/// Keeps a proxy busy from a few threads, each on keep-alive connections (GET, and a POST with
/// a body every third request), and counts every answer that is not a 200 and every socket
/// error as a failed request. Stops by itself when destroyed or `stop`ped.
class LoadGenerator {
 public:
  /// Starts `threads` clients against 127.0.0.1:`port`, sending `Host: host`.
  explicit LoadGenerator(std::uint16_t port, std::string host = "app", int threads = 4);
  ~LoadGenerator() { stop(); }
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  /// Stops the clients and waits for them.
  void stop();
  /// Requests answered 200.
  [[nodiscard]] int ok() const { return ok_.load(); }
  /// Requests that failed in any way.
  [[nodiscard]] int failed() const { return failed_.load(); }
  /// How many 200 answers carried each body (e.g. each version's name).
  [[nodiscard]] std::map<std::string, int> bodies() const;
  /// The first failures, described.
  [[nodiscard]] std::vector<std::string> failures() const;

 private:
  void run(int index);

  std::uint16_t port_;
  std::string get_;   // the GET request
  std::string post_;  // the POST request
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  mutable std::mutex mutex_;
  std::map<std::string, int> bodies_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

}  // namespace handoff::test
