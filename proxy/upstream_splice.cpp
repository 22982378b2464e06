// The large-body path of UpstreamExchange: the rest of a Content-Length response body moves
// from the upstream's socket to a plain client's inside the kernel, by splice(2) through a
// pipe. It keeps the buffered path's guarantees: exactly the announced length is moved (bytes
// beyond it stay in the upstream socket, so its connection is not reused), a client that
// stops reading holds at most the pipe's capacity, and the same timeouts, drain and shutdown
// apply.
#include <cerrno>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/splice_pipe.hpp"
#include "proxy/upstream_exchange.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// splice(2) on a socket waits unless the socket itself is non-blocking. Asio makes its
// sockets so once they are used asynchronously; this makes sure without a system call then.
bool make_non_blocking(tcp::socket& socket) {
  boost::system::error_code ec;
  if (!socket.native_non_blocking()) {
    socket.native_non_blocking(true, ec);
  }
  return !ec;
}

}  // namespace

// Waits until `socket` is ready for `what`, within `timeout`; false when the wait ended
// otherwise (the client side is told why: the response is cut).
asio::awaitable<bool> UpstreamExchange::wait_for(tcp::socket& socket, tcp::socket::wait_type what,
                                                 std::chrono::milliseconds timeout) {
  arm(timeout);
  const auto [ec] = co_await socket.async_wait(what, nothrow);
  if (killed()) {
    client_.cut(handle_.kill_reason);
    co_return false;
  }
  if (ec || timed_out()) {
    const bool reading = what == tcp::socket::wait_read;
    client_.cut(reading ? (timed_out() ? "timed out waiting for the upstream mid-body"
                                       : "the upstream closed mid-body")
                        : "the client went away");
    co_return false;
  }
  co_return true;
}

// Moves `length` body bytes from the upstream to `client`; false when the response was cut.
asio::awaitable<bool> UpstreamExchange::relay_spliced(tcp::socket& client, std::uint64_t length) {
  SplicePipe pipe = worker_.splice_pipes().take();
  if (!pipe.valid() || !make_non_blocking(socket_) || !make_non_blocking(client)) {
    client_.cut("no pipe for a large body");
    co_return false;
  }
  const ProxyConfig& config = worker_.config();
  bool upstream_open = true;  // until its end of stream or an error mid-body
  while ((length > 0 && upstream_open) || pipe.held() > 0) {
    if (length > 0 && upstream_open) {
      const ssize_t n = pipe.fill(socket_.native_handle(), length);
      if (n > 0) {
        length -= static_cast<std::uint64_t>(n);
        continue;
      }
      if (n == 0 || errno != EAGAIN) {
        upstream_open = false;  // what the pipe holds still goes to the client, as buffered
        continue;
      }
      if (pipe.held() == 0) {  // nothing to read, nothing to give: wait for the upstream
        const bool ready =
            co_await wait_for(socket_, tcp::socket::wait_read, config.upstream_response_timeout);
        if (!ready) {
          co_return false;
        }
        continue;
      }
    }
    const ssize_t n = pipe.drain(client.native_handle());
    if (n > 0) {
      client_.spliced(static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || errno != EAGAIN) {
      client_.cut("the client went away");
      co_return false;
    }
    const bool ready = co_await wait_for(client, tcp::socket::wait_write, config.client_io_timeout);
    if (!ready) {
      co_return false;
    }
  }
  if (length > 0) {
    client_.cut("the upstream closed mid-body");
    co_return false;
  }
  worker_.splice_pipes().put(std::move(pipe));
  co_return true;
}

}  // namespace handoff::proxy
