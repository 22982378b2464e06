// The large-body path of UpstreamExchange: the rest of a Content-Length response body moves
// from the upstream's socket to a plain client's inside the kernel, by splice(2) through a
// pipe. It keeps the buffered path's guarantees: exactly the announced length is moved (bytes
// beyond it stay in the upstream socket, where the pool's check finds them and closes the
// connection instead of reusing it), a client that
// stops reading holds at most the pipe's capacity (64 KiB), and the same timeouts, drain and
// shutdown apply.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>

#include "proxy/nothrow.hpp"
#include "proxy/upstream/splice_pipe.hpp"
#include "proxy/upstream/upstream_exchange.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

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
    // One move in from the upstream and one out to the client per turn, so that both sockets
    // stay busy; a wait only when neither side moved.
    bool moved = false;
    if (length > 0 && upstream_open) {
      const ssize_t n = pipe.fill(socket_.native_handle(), length);
      if (n > 0) {
        length -= static_cast<std::uint64_t>(n);
      } else if (n == 0 || errno != EAGAIN) {
        upstream_open = false;  // what the pipe holds still goes to the client, as buffered
      }
      moved = n != -1 || errno != EAGAIN;
    }
    if (pipe.held() > 0) {
      const ssize_t n = pipe.drain(client.native_handle());
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        client_.cut("the client went away");
        co_return false;
      }
      if (n > 0) {
        client_.spliced(static_cast<std::size_t>(n));
        moved = true;
      }
    }
    if (moved) {
      continue;
    }
    // The pipe holds bytes the client cannot take yet, or it is empty and the upstream has
    // sent nothing more: wait for that side. (No co_await in a conditional expression: GCC 12
    // mishandles those, see ClientSession::run.)
    bool ready = false;
    if (pipe.held() > 0) {
      ready = co_await wait_for(client, tcp::socket::wait_write, config.client_io_timeout);
    } else {
      ready = co_await wait_for(socket_, tcp::socket::wait_read, config.upstream_response_timeout);
    }
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
