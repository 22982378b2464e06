#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace handoff::proxy {

class Worker;
class TlsContext;

/// Serves one client connection until it closes: reads each request, routes it by Host, relays
/// it to the service's current upstream and streams the response back, in order. With `tls`,
/// the connection starts with a TLS handshake and every byte goes through it.
boost::asio::awaitable<void> serve_client(Worker& worker, boost::asio::ip::tcp::socket socket,
                                          const TlsContext* tls);

}  // namespace handoff::proxy
