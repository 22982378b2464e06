#include "proxy/client_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <optional>

#include "proxy/nothrow.hpp"
#include "proxy/socket_write.hpp"
#include "proxy/tls/tls_context.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// At most one TLS record's worth of plaintext is joined into one write: a head and a short
// body become one record and one send, as they are one send over plain TCP.
constexpr std::size_t kMaxJoined = 16 * 1024;

}  // namespace

// Every OpenSSL call below first checks that the socket is still open. A drain or shutdown may
// close it from outside (SessionHandle::close_all) while the stream waits; its descriptor number
// can then be given to a new connection at once, and OpenSSL, which holds the number, would
// read or write that stranger's connection.
ClientStream::ClientStream(tcp::socket socket, const TlsContext* tls, BufferPool& coalesce)
    : socket_(std::move(socket)), coalesce_(coalesce) {
  // Non-blocking from the start: OpenSSL and the at-once writes need it, and Asio would set
  // it (with the same system call) at the first asynchronous operation anyway.
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  if (tls != nullptr) {
    ssl_ = tls->new_connection();
    SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
    SSL_set_accept_state(ssl_);
  }
}

bool ClientStream::alpn_h2() const {
  if (ssl_ == nullptr) {
    return false;
  }
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &protocol, &length);
  return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
}

ClientStream::~ClientStream() {
  SSL_free(ssl_);  // the socket BIO does not close the descriptor; socket_ does
}

asio::awaitable<bool> ClientStream::handshake() {
  while (ssl_ != nullptr) {
    if (!socket_.is_open()) {
      co_return false;
    }
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      break;
    }
    const boost::system::error_code ec = co_await await_ssl(r);
    if (ec) {
      co_return false;
    }
  }
  co_return true;
}

// What OpenSSL wants after a call that returned `ssl_result`: readiness to wait for, or (empty)
// a final error in `failure`.
std::optional<tcp::socket::wait_type> ClientStream::wanted(int ssl_result,
                                                           boost::system::error_code& failure) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, ssl_result)) {
    case SSL_ERROR_WANT_READ:
      return tcp::socket::wait_read;
    case SSL_ERROR_WANT_WRITE:
      return tcp::socket::wait_write;
    case SSL_ERROR_ZERO_RETURN:
      failure = asio::error::eof;  // close_notify, or (see TlsContext) a plain end of stream
      return std::nullopt;
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      failure = saved_errno == 0
                    ? boost::system::error_code(asio::error::eof)
                    : boost::system::error_code(saved_errno, boost::system::system_category());
      break;
    default:  // a protocol error: garbage records, plain HTTP on a TLS port, a bad handshake
      failed_ = true;
      failure = boost::system::errc::make_error_code(boost::system::errc::protocol_error);
      break;
  }
  ERR_clear_error();
  return std::nullopt;
}

// Waits for what OpenSSL asked for; the error that ends the call (a cancelled wait included).
asio::awaitable<boost::system::error_code> ClientStream::await_ssl(int ssl_result) {
  boost::system::error_code failure;
  const std::optional<tcp::socket::wait_type> wait = wanted(ssl_result, failure);
  if (!wait) {
    co_return failure;
  }
  const std::tuple<boost::system::error_code> waited = co_await socket_.async_wait(*wait, nothrow);
  co_return std::get<0>(waited);
}

asio::awaitable<ClientStream::Result> ClientStream::read_some(asio::mutable_buffer into) {
  if (ssl_ == nullptr) {
    return socket_.async_read_some(into, nothrow);
  }
  return tls_read_some(into);
}

asio::awaitable<ClientStream::Result> ClientStream::tls_read_some(asio::mutable_buffer into) {
  while (true) {
    if (!socket_.is_open()) {
      co_return Result{asio::error::bad_descriptor, 0};
    }
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_, into.data(), into.size(), &n);
    if (r == 1) {
      co_return Result{boost::system::error_code(), n};
    }
    const boost::system::error_code ec = co_await await_ssl(r);
    if (ec) {
      co_return Result{ec, 0};
    }
  }
}

std::size_t ClientStream::write_at_once(std::string_view head, std::string_view body,
                                        boost::system::error_code& ec) {
  return ssl_ == nullptr ? proxy::write_at_once(socket_, head, body, ec) : 0;
}

void ClientStream::write_now(std::string_view bytes) {
  if (!socket_.is_open()) {
    return;
  }
  if (ssl_ == nullptr) {
    boost::system::error_code ignored;
    proxy::write_at_once(socket_, bytes, {}, ignored);
    return;
  }
  ERR_clear_error();
  std::size_t n = 0;
  SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n);
}

asio::awaitable<ClientStream::Result> ClientStream::write(std::string_view head,
                                                          std::string_view body) {
  if (ssl_ == nullptr) {
    return write_all(socket_, head, body);  // callers in a hurry try write_at_once first
  }
  return tls_write(head, body);
}

asio::awaitable<ClientStream::Result> ClientStream::tls_write(std::string_view head,
                                                              std::string_view body) {
  const std::size_t total = head.size() + body.size();
  if (!head.empty() && !body.empty() && total <= std::min(kMaxJoined, coalesce_.block_size())) {
    std::unique_ptr<char[]> block = coalesce_.get();
    std::memcpy(block.get(), head.data(), head.size());
    std::memcpy(block.get() + head.size(), body.data(), body.size());
    const Result r = co_await tls_write_all({block.get(), total});
    coalesce_.put(std::move(block));
    co_return r;
  }
  const Result first = co_await tls_write_all(head);
  if (std::get<0>(first)) {
    co_return first;
  }
  const Result second = co_await tls_write_all(body);
  co_return Result{std::get<0>(second), std::get<1>(first) + std::get<1>(second)};
}

// A write interrupted by WANT_WRITE is retried with the same bytes, which stay alive in the
// caller's frame meanwhile (as OpenSSL requires).
asio::awaitable<ClientStream::Result> ClientStream::tls_write_all(std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (!socket_.is_open()) {
      co_return Result{asio::error::bad_descriptor, done};
    }
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_write_ex(ssl_, bytes.data() + done, bytes.size() - done, &n);
    if (r == 1) {
      done += n;
      continue;
    }
    const boost::system::error_code ec = co_await await_ssl(r);
    if (ec) {
      co_return Result{ec, done};
    }
  }
  co_return Result{boost::system::error_code(), done};
}

asio::awaitable<std::tuple<boost::system::error_code>> ClientStream::wait_readable() {
  if (ssl_ != nullptr && SSL_has_pending(ssl_) == 1) {
    return []() -> asio::awaitable<std::tuple<boost::system::error_code>> {
      co_return std::tuple<boost::system::error_code>{};
    }();
  }
  return socket_.async_wait(tcp::socket::wait_read, nothrow);
}

void ClientStream::shutdown_send() {
  if (!socket_.is_open()) {
    return;
  }
  // OpenSSL forbids SSL_shutdown after a fatal error; a close_notify that cannot go out at
  // once is left unsent (the peer sees the end of the TCP stream, which it accepts too).
  if (ssl_ != nullptr && !failed_ && SSL_is_init_finished(ssl_) == 1) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace handoff::proxy
