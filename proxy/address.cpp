#include "proxy/address.hpp"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <charconv>
#include <stdexcept>

#include "proxy/http/whole_number.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

HostPort parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw std::invalid_argument(fmt::format("bad address '{}': expected [IPv6]:PORT", text));
    }
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      throw std::invalid_argument(
          fmt::format("bad address '{}': expected HOST:PORT (IPv6 as [::1]:PORT)", text));
    }
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  const std::optional<std::uint16_t> value = parse_whole_number<std::uint16_t>(port);
  if (hp.host.empty() || !value) {
    throw std::invalid_argument(fmt::format("bad address '{}': expected HOST:PORT", text));
  }
  hp.port = *value;
  return hp;
}

std::vector<tcp::endpoint> resolve_address(std::string_view text) {
  HostPort hp = parse_host_port(text);
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(hp.host, ec);
  if (!ec) {
    return {tcp::endpoint(ip, hp.port)};
  }
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port), ec);
  if (ec || results.empty()) {
    throw std::invalid_argument(
        fmt::format("cannot resolve '{}': {}", hp.host, ec ? ec.message() : "no address"));
  }
  std::vector<tcp::endpoint> out;
  for (const auto& r : results) {
    out.push_back(r.endpoint());
  }
  return out;
}

std::string format_endpoint(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) {
    return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
  }
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

}  // namespace handoff::proxy
