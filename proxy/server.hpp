#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/config.hpp"
#include "proxy/listening_socket.hpp"
#include "proxy/routing/router.hpp"
#include "proxy/tls/acme_challenges.hpp"
#include "proxy/upstream/drain.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

/// The data plane: listeners, workers and the route table. This is the in-process API the
/// control plane drives: build services, `swap` an upstream in, `drain` the one swapped out.
class Server {
 public:
  /// Binds every listen address, plain and TLS (throws std::runtime_error naming the address
  /// on failure). `inherited` are the listening sockets of the process handoff takes over
  /// from: they are accepted on as they are, and a listen address they already cover is not
  /// bound again.
  explicit Server(ProxyConfig config, std::vector<ListeningSocket> inherited = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Starts the worker threads.
  void start();
  /// Stops accepting, lets requests in flight finish for up to `shutdown_timeout`, closes what
  /// remains and joins the workers.
  void shutdown();
  /// For an upgrade, once the successor accepts on the same listening sockets: stops accepting;
  /// each further request on a keep-alive connection is answered with `Connection: close`
  /// (a connection is never cut between requests); after `drain_timeout` whatever is still
  /// open (slow requests, tunnels, clients that stayed idle) is closed. Joins the workers.
  void hand_over(Millis drain_timeout);
  /// Every listening socket of every worker (the descriptors stay owned by the server).
  [[nodiscard]] std::vector<ListeningSocket> listening_sockets() const;

  /// The configuration the server was built with.
  [[nodiscard]] const ProxyConfig& config() const { return config_; }
  /// The route table's owner.
  Router& router() { return router_; }
  /// The plain addresses actually bound (port 0 resolved to the real port).
  [[nodiscard]] const std::vector<boost::asio::ip::tcp::endpoint>& local_endpoints() const {
    return bound_;
  }
  /// The TLS addresses actually bound.
  [[nodiscard]] const std::vector<boost::asio::ip::tcp::endpoint>& tls_endpoints() const {
    return bound_tls_;
  }
  /// HTTP-01 answers the plain listeners give before routing (for the ACME client).
  AcmeChallenges& acme_challenges() { return acme_challenges_; }
  /// TLS termination: install certificates here (`TlsContext::replace`).
  TlsContext& tls() { return tls_; }
  /// TLS handshakes that failed or timed out, over all workers.
  [[nodiscard]] std::uint64_t tls_failures() const;
  /// HTTP/2 connections ended with ENHANCE_YOUR_CALM, over all workers.
  [[nodiscard]] std::uint64_t calmed() const;
  /// Open client connections.
  [[nodiscard]] std::size_t connections() const { return connections_.open(); }
  /// Requests for hosts no service claims (answered 404), over all workers.
  [[nodiscard]] std::uint64_t unrouted() const;
  /// Requests refused before routing as malformed or over a limit, over all workers.
  [[nodiscard]] std::uint64_t rejected() const;

  /// A new upstream for `address` (HOST:PORT; resolved now). Throws std::invalid_argument.
  [[nodiscard]] std::shared_ptr<Upstream> make_upstream(const std::string& address,
                                                        std::uint64_t generation = 0) const;
  /// A new upstream for `address`, already resolved to `endpoint`: no lookup.
  [[nodiscard]] std::shared_ptr<Upstream> make_upstream(const std::string& address,
                                                        boost::asio::ip::tcp::endpoint endpoint,
                                                        std::uint64_t generation) const;

  /// Makes `next` the service's upstream set with one atomic store and returns the members it
  /// left (retired). Their idle pooled connections are closed; requests already in flight on
  /// them continue (see `drain`). Call from a control thread, never from a worker.
  std::vector<std::shared_ptr<Upstream>> swap(Service& service,
                                              std::shared_ptr<const UpstreamSet> next);

  /// Drains `old` (see drain_upstreams): waits until no request is in flight on them, at most
  /// `timeout`, then has each worker close what is still open on them (slow requests,
  /// tunnels). Calls `progress` about every 100 ms. Blocks; call from a control thread.
  DrainResult drain(const std::vector<std::shared_ptr<Upstream>>& old, Millis timeout,
                    const DrainProgress& progress = {});

 private:
  /// Binds `requested` once per worker (SO_REUSEPORT); returns the address bound.
  boost::asio::ip::tcp::endpoint listen_on(const boost::asio::ip::tcp::endpoint& requested,
                                           bool tls);
  /// Spreads handed-over sockets over the workers; returns each address adopted.
  std::vector<std::pair<boost::asio::ip::tcp::endpoint, bool>> adopt(
      std::vector<ListeningSocket> inherited);
  void finish(Millis timeout);

  ProxyConfig config_;
  Router router_;
  TlsContext tls_;
  AcmeChallenges acme_challenges_;
  ConnectionCount connections_;
  std::vector<boost::asio::ip::tcp::endpoint> bound_;
  std::vector<boost::asio::ip::tcp::endpoint> bound_tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace handoff::proxy
