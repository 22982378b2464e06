#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <utility>

namespace handoff::proxy {

/// Writes at once what `socket`'s send buffer takes of `first` then `second`: one sendmsg,
/// never a wait, no Asio operation or handler. Nearly every head and short body goes whole
/// this way. Returns the bytes written; `ec` is set on a failure (a full buffer is none). A
/// socket not in non-blocking mode (`non_blocking(true)`) gets nothing written.
std::size_t write_at_once(boost::asio::ip::tcp::socket& socket, std::string_view first,
                          std::string_view second, boost::system::error_code& ec);

/// What is left of `first` then `second` once `written` bytes of them went.
std::pair<std::string_view, std::string_view> unwritten(std::string_view first,
                                                        std::string_view second,
                                                        std::size_t written);

/// Writes `first` then `second` wholly through Asio, waiting for room in the send buffer as
/// needed (for what `write_at_once` left).
boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write_all(
    boost::asio::ip::tcp::socket& socket, std::string_view first, std::string_view second);

/// Writes `first` then `second` wholly: at once when the send buffer has room
/// (`write_at_once`), and the rest through Asio as the buffer drains.
boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write_now_or_later(
    boost::asio::ip::tcp::socket& socket, std::string_view first, std::string_view second = {});

}  // namespace handoff::proxy
