#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace handoff::test {

/// A request as a test backend received it.
struct BackendRequest {
  std::string method;
  std::string target;
  std::string raw_head;                             ///< request line and fields exactly as received
  std::multimap<std::string, std::string> headers;  ///< names lowercased
  std::string body;                                 ///< decoded
  std::string raw_body;  ///< exactly as received (chunked framing included)

  /// The first value of a field, or "" when absent.
  [[nodiscard]] std::string header(const std::string& lower_name) const;
  /// Whether the field is present.
  [[nodiscard]] bool has(const std::string& lower_name) const {
    return headers.count(lower_name) > 0;
  }
};

/// One accepted connection, handled by a blocking thread of its own.
class BackendConnection {
 public:
  explicit BackendConnection(int fd) : fd_(fd) {}
  /// Reads the next request; empty on EOF or error.
  std::optional<BackendRequest> read_request();
  /// Sends bytes; false when the peer is gone.
  bool send(std::string_view bytes);
  /// Reads what is available (blocking for at least one byte); "" on EOF.
  std::string read_some();
  /// Closes with a TCP reset instead of a clean close.
  void reset();
  /// The socket.
  [[nodiscard]] int fd() const { return fd_; }

 private:
  bool fill();
  int fd_;
  std::string buffer_;
};

/// A real HTTP/1.1 server on 127.0.0.1 (port 0) whose behaviour each test scripts. Every
/// request it reads is recorded.
class TestBackend {
 public:
  using Handler = std::function<void(BackendConnection&, TestBackend&)>;

  /// Starts listening on `port` (0: any free one); `handler` runs once per connection, on that
  /// connection's thread.
  explicit TestBackend(Handler handler, std::uint16_t port = 0);
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  /// The port it listens on.
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// `127.0.0.1:PORT`.
  [[nodiscard]] std::string address() const;
  /// Connections accepted so far.
  [[nodiscard]] std::size_t connections() const { return accepted_.load(); }
  /// Requests read so far.
  [[nodiscard]] std::vector<BackendRequest> requests() const;
  /// Records a request (done by the handlers below).
  void record(const BackendRequest& r);

  /// Keep-alive loop answering every request `status` with `body`.
  static Handler respond(std::string body, int status = 200);
  /// Bulk transfers without buffering: a PUT's body (`bytes` of it) is read and dropped and
  /// answered with its size; any other request gets a body of `bytes` bytes.
  static Handler bulk(std::size_t bytes);
  /// Answers the first request with a WebSocket 101 and then echoes every byte back (a
  /// WebSocket echo server at the TCP level; frames come back as they were sent).
  static void websocket_echo(BackendConnection& c, TestBackend& self);

 private:
  void accept_loop();

  Handler handler_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> accepted_{0};
  mutable std::mutex mutex_;
  std::vector<BackendRequest> requests_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace handoff::test
