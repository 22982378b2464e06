#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace handoff::test {

/// A parsed HTTP response as a test client sees it.
struct Response {
  int status = 0;
  std::string head;                                 ///< status line and fields, as received
  std::multimap<std::string, std::string> headers;  ///< names lowercased
  std::string body;                                 ///< after removing chunked framing
  std::size_t body_bytes = 0;  ///< body length, also when the body was discarded
  bool closed = false;         ///< the connection closed after this response

  /// The first value of a field, or "" when absent.
  [[nodiscard]] std::string header(const std::string& lower_name) const;
};

class TlsClient;

/// A blocking TCP client on loopback with a receive timeout, so a test can never hang. It
/// speaks TLS to a port marked so (see tls_client.hpp).
class SocketClient {
 public:
  /// Connects to 127.0.0.1:`port`; throws on failure. It speaks TLS, asking for `tls_name` by
  /// SNI, when that is given, or for "localhost" when the port is marked as TLS.
  explicit SocketClient(std::uint16_t port,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10),
                        const std::optional<std::string>& tls_name = std::nullopt);
  ~SocketClient();
  /// The TLS session, when the port speaks TLS (null otherwise).
  [[nodiscard]] TlsClient* tls() const { return tls_.get(); }
  SocketClient(const SocketClient&) = delete;
  SocketClient& operator=(const SocketClient&) = delete;

  /// Sends all of `bytes`; false when the peer is gone.
  bool send(std::string_view bytes);
  /// Reads one response (for a request whose method was `method`); status 0 on EOF/timeout.
  Response read_response(std::string_view method = "GET");
  /// Reads one response whose Content-Length body is counted but not kept (large downloads).
  Response read_response_discarding_body();
  /// Reads whatever arrives until the peer closes or the timeout; returns it.
  std::string read_until_close();
  /// Reads exactly `n` bytes (fewer on EOF or timeout).
  std::string read_exact(std::size_t n);
  /// Reads and discards exactly `n` bytes; returns how many arrived.
  std::size_t discard(std::size_t n);
  /// Whether the peer closed the connection (reads would return EOF) within `wait`.
  bool closed_by_peer(std::chrono::milliseconds wait = std::chrono::seconds(5));
  /// Half-closes the sending side.
  void shutdown_send();
  /// Why the last send failed.
  [[nodiscard]] const std::string& last_error() const { return last_error_; }
  /// The file descriptor.
  [[nodiscard]] int fd() const { return fd_; }

 private:
  bool fill();                                   // reads more into buffer_; false on EOF/error
  long recv_some(char* into, std::size_t size);  // one read, TLS or not: bytes, 0 EOF, -1

  int fd_ = -1;
  std::unique_ptr<TlsClient> tls_;
  std::string buffer_;
  std::string last_error_;
};

/// Sends one request on a fresh connection and reads the response.
Response request_once(std::uint16_t port, std::string_view raw_request,
                      std::string_view method = "GET");

}  // namespace handoff::test
