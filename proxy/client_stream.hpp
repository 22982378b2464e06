#pragma once

#include <openssl/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string_view>
#include <tuple>

#include "proxy/buffer.hpp"

namespace handoff::proxy {

class TlsContext;

/// A client connection's byte stream: the TCP socket itself, or TLS over it. TLS runs OpenSSL
/// directly on the non-blocking socket (as nginx and HAProxy do) and waits for readiness with
/// Asio only when OpenSSL asks to: no second copy of each record, and an idle connection holds
/// no buffer of its own (OpenSSL releases its own, see TlsContext).
class ClientStream {
 public:
  /// What a read or a write ended with, and how many bytes it moved.
  using Result = std::tuple<boost::system::error_code, std::size_t>;

  /// A plain stream, or a TLS one when `tls` is given; `coalesce` lends the block in which a
  /// response head and its body are joined into one TLS record.
  ClientStream(boost::asio::ip::tcp::socket socket, const TlsContext* tls, BufferPool& coalesce);
  ~ClientStream();
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  /// The TCP socket (cancelling or closing it ends whatever the stream waits on).
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  /// Whether this is TLS.
  [[nodiscard]] bool secure() const { return ssl_ != nullptr; }
  /// Whether the TLS handshake chose HTTP/2 by ALPN.
  [[nodiscard]] bool alpn_h2() const;

  /// The TLS handshake (true at once for a plain stream). False when it failed or the socket
  /// was closed or cancelled meanwhile.
  boost::asio::awaitable<bool> handshake();
  /// Reads what is available into `into` (at least one byte, or an error; end of stream is
  /// `asio::error::eof`).
  boost::asio::awaitable<Result> read_some(boost::asio::mutable_buffer into);
  /// Writes at once what the socket's send buffer takes of `head` then `body`, never waiting
  /// (see `write_at_once` in proxy/socket_write.hpp); a TLS stream writes nothing here. Bytes
  /// written; `ec` on a failure.
  std::size_t write_at_once(std::string_view head, std::string_view body,
                            boost::system::error_code& ec);
  /// Writes `bytes` (a few) if the socket takes them now, over TLS as one record; never waits.
  /// For last words before a close: whether they went out is not reported.
  void write_now(std::string_view bytes);
  /// Writes `head` then `body`, wholly, or fails.
  boost::asio::awaitable<Result> write(std::string_view head, std::string_view body = {});
  /// Waits until a read would find something (at once when TLS has input decrypted or
  /// buffered already).
  boost::asio::awaitable<std::tuple<boost::system::error_code>> wait_readable();
  /// Ends the sending side: a TLS close_notify if it can go out now, then a TCP half-close.
  void shutdown_send();

 private:
  /// Waits for the readiness OpenSSL asked for after `ssl_result`; an error when the call
  /// failed for good.
  boost::asio::awaitable<boost::system::error_code> await_ssl(int ssl_result);
  std::optional<boost::asio::ip::tcp::socket::wait_type> wanted(int ssl_result,
                                                                boost::system::error_code& failure);
  boost::asio::awaitable<Result> tls_read_some(boost::asio::mutable_buffer into);
  boost::asio::awaitable<Result> tls_write(std::string_view head, std::string_view body);
  boost::asio::awaitable<Result> tls_write_all(std::string_view bytes);

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  bool failed_ = false;  // OpenSSL reported a fatal error: no close_notify may follow
  BufferPool& coalesce_;
};

}  // namespace handoff::proxy
