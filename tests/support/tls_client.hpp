#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace handoff::test {

/// Whether the relay tests run over TLS (HANDOFF_TEST_TLS=1): ProxyUnderTest then listens for
/// TLS only, with the shared test certificate as its default, and every SocketClient that
/// connects to such a proxy speaks TLS to it. The suite must pass the same way.
bool tls_mode();
/// Records that clients of `port` speak TLS (`on`), or no longer (the port is closed).
void mark_tls_port(std::uint16_t port, bool on = true);
/// Whether clients of `port` speak TLS.
bool is_tls_port(std::uint16_t port);

/// The client side of a TLS connection on a connected blocking socket (its receive timeout
/// applies). Does not verify the certificate: the tests check what the proxy relays.
class TlsClient {
 public:
  /// Handshakes for `server_name`, resuming `session` when given; throws std::runtime_error
  /// with OpenSSL's reason when the handshake fails.
  TlsClient(int fd, const std::string& server_name, SSL_SESSION* session = nullptr);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  /// Sends all of `bytes` (in pieces in split-sends mode); false when the peer is gone.
  bool send_all(std::string_view bytes, std::string* error = nullptr);
  /// Reads what one SSL_read returns into `buffer`: bytes, 0 at the end, -1 on error/timeout.
  long recv_some(char* buffer, std::size_t size);
  /// Sends close_notify.
  void close_notify();
  /// The connection (for session, certificate and ALPN checks).
  [[nodiscard]] SSL* native() const { return ssl_; }

 private:
  bool send_whole(std::string_view bytes, std::string* error);
  SSL* ssl_ = nullptr;
};

}  // namespace handoff::test
