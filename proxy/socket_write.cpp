#include "proxy/socket_write.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>

#include "proxy/nothrow.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;

std::size_t write_at_once(asio::ip::tcp::socket& socket, std::string_view first,
                          std::string_view second, boost::system::error_code& ec) {
  if (!socket.is_open() || !socket.non_blocking()) {
    return 0;
  }
  std::array<iovec, 2> parts{iovec{const_cast<char*>(first.data()), first.size()},
                             iovec{const_cast<char*>(second.data()), second.size()}};
  msghdr message{};
  message.msg_iov = parts.data();
  message.msg_iovlen = second.empty() ? 1 : 2;
  while (true) {
    const ssize_t n = ::sendmsg(socket.native_handle(), &message, MSG_NOSIGNAL);
    if (n >= 0) {
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec.assign(errno, boost::system::system_category());
    }
    return 0;
  }
}

std::pair<std::string_view, std::string_view> unwritten(std::string_view first,
                                                        std::string_view second,
                                                        std::size_t written) {
  const std::size_t from_first = std::min(written, first.size());
  return {first.substr(from_first), second.substr(written - from_first)};
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write_all(
    asio::ip::tcp::socket& socket, std::string_view first, std::string_view second) {
  const std::array<asio::const_buffer, 2> both{asio::buffer(first), asio::buffer(second)};
  return asio::async_write(socket, both, nothrow);
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write_now_or_later(
    asio::ip::tcp::socket& socket, std::string_view first, std::string_view second) {
  boost::system::error_code ec;
  const std::size_t done = write_at_once(socket, first, second, ec);
  if (ec || done == first.size() + second.size()) {
    co_return std::tuple{ec, done};
  }
  const auto [rest_first, rest_second] = unwritten(first, second, done);
  auto [later_ec, later] = co_await write_all(socket, rest_first, rest_second);
  co_return std::tuple{later_ec, done + later};
}

}  // namespace handoff::proxy
