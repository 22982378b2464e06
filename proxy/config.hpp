#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace handoff::proxy {

using Millis = std::chrono::milliseconds;

/// How a request picks a member of its service's upstream set.
enum class Balancing : std::uint8_t {
  least_of_two,  ///< of two members drawn at random, the one expected to answer sooner
  round_robin,   ///< each worker takes the members in turn
};

/// Every limit and timeout of the data plane; immutable once the server is built.
struct ProxyConfig {
  std::vector<boost::asio::ip::tcp::endpoint> listen;      ///< addresses to accept clients on
  std::vector<boost::asio::ip::tcp::endpoint> listen_tls;  ///< addresses to accept TLS clients on
  /// The port HTTP requests are redirected to for HTTPS: the first TLS listener's once bound.
  std::uint16_t https_port = 443;
  unsigned threads = 1;  ///< worker threads, one acceptor each

  Millis client_header_timeout{10'000};      ///< to receive a whole request head
  Millis client_idle_timeout{60'000};        ///< keep-alive wait for the next request
  Millis client_io_timeout{60'000};          ///< each read or write of a body from or to a client
  Millis upstream_connect_timeout{5'000};    ///< to open a connection to an upstream
  Millis upstream_response_timeout{60'000};  ///< each wait for response bytes from an upstream
  Millis upstream_idle_timeout{30'000};      ///< an idle pooled upstream connection is closed
  Millis tunnel_idle_timeout{3'600'000};     ///< an upgraded connection with no traffic
  Millis shutdown_timeout{30'000};           ///< SIGTERM waits this long for in-flight requests

  std::size_t max_header_bytes = 16 * 1024;  ///< request head size limit (431 beyond)
  std::uint64_t max_body_bytes = 0;          ///< request body limit (413 beyond); 0: none
  std::size_t max_connections = 65'536;      ///< client connections, over all threads
  std::size_t upstream_max_idle = 256;       ///< pooled idle connections per upstream and thread
  std::size_t max_conns_per_member = 0;      ///< upstream connections in use per member; 0: none
  std::size_t max_queue_per_member = 1'000;  ///< requests waiting for one of them (503 beyond)
  Millis queue_timeout{10'000};              ///< a request waits this long for one (then 503)
  bool access_log = true;                    ///< one JSON line per request on stdout

  bool http2 = true;  ///< TLS listeners offer HTTP/2 by ALPN (`h2`, then `http/1.1`)
  bool h2c = false;   ///< plain listeners also take prior-knowledge HTTP/2 (behind a TLS proxy)
  std::uint32_t h2_max_streams = 100;  ///< concurrent streams per HTTP/2 connection

  Balancing balancing = Balancing::least_of_two;  ///< how a request picks its set's member
};

}  // namespace handoff::proxy
