#include "proxy/server.hpp"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <stdexcept>
#include <thread>

#include "proxy/address.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// SO_REUSEPORT as a socket option (Asio's SettableSocketOption requirements; Asio has no
// public one).
class ReusePort {
 public:
  explicit ReusePort(bool on) : value_(on ? 1 : 0) {}
  template <typename Protocol>
  [[nodiscard]] int level(const Protocol& /*unused*/) const {
    return SOL_SOCKET;
  }
  template <typename Protocol>
  [[nodiscard]] int name(const Protocol& /*unused*/) const {
    return SO_REUSEPORT;
  }
  template <typename Protocol>
  [[nodiscard]] const int* data(const Protocol& /*unused*/) const {
    return &value_;
  }
  template <typename Protocol>
  [[nodiscard]] std::size_t size(const Protocol& /*unused*/) const {
    return sizeof value_;
  }

 private:
  int value_;
};

tcp::acceptor open_acceptor(asio::io_context& io, const tcp::endpoint& ep, bool reuse_port) {
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec && ep.address().is_v6()) {
    acceptor.set_option(asio::ip::v6_only(true), ec);
  }
  if (!ec && reuse_port) {
    acceptor.set_option(ReusePort(true), ec);
  }
  if (!ec) {
    acceptor.bind(ep, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}: {}", format_endpoint(ep), ec.message()));
  }
  return acceptor;
}

}  // namespace

Server::Server(ProxyConfig config) : config_(std::move(config)), router_(config_.threads) {
  if (config_.threads == 0) {
    throw std::runtime_error("--threads must be at least 1");
  }
  if (config_.listen.empty() && config_.listen_tls.empty()) {
    throw std::runtime_error("no listen address (use --listen HOST:PORT)");
  }
  for (unsigned i = 0; i < config_.threads; ++i) {
    workers_.push_back(
        std::make_unique<Worker>(i, config_, router_, connections_, tls_, acme_challenges_));
  }
  for (const tcp::endpoint& requested : config_.listen) {
    bound_.push_back(listen_on(requested, false));
  }
  for (const tcp::endpoint& requested : config_.listen_tls) {
    bound_tls_.push_back(listen_on(requested, true));
  }
  if (!bound_tls_.empty()) {
    config_.https_port = bound_tls_.front().port();  // before the workers start reading it
  }
}

tcp::endpoint Server::listen_on(const tcp::endpoint& requested, bool tls) {
  // SO_REUSEPORT would let a second proxy bind the same port silently; a plain bind first
  // makes "address already in use" an error, as users expect.
  tcp::endpoint ep = requested;
  {
    tcp::acceptor probe = open_acceptor(workers_[0]->io(), ep, false);
    ep = probe.local_endpoint();
  }
  for (auto& worker : workers_) {
    worker->add_acceptor(open_acceptor(worker->io(), ep, true), tls);
  }
  return ep;
}

Server::~Server() {
  shutdown();
}

void Server::start() {
  for (auto& worker : workers_) {
    worker->start();
  }
  started_ = true;
}

void Server::shutdown() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  if (started_) {
    for (auto& worker : workers_) {
      worker->begin_shutdown();
    }
    const auto deadline = Clock::now() + config_.shutdown_timeout;
    while (connections_.load() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (auto& worker : workers_) {
      worker->close_all();
    }
    const auto grace = Clock::now() + std::chrono::seconds(1);
    while (connections_.load() > 0 && Clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  for (auto& worker : workers_) {
    worker->join();
  }
}

std::shared_ptr<Upstream> Server::make_upstream(const std::string& address,
                                                std::uint64_t generation) const {
  auto endpoints = resolve_address(address);
  return std::make_shared<Upstream>(address, endpoints.front(), config_.threads, generation);
}

std::shared_ptr<Upstream> Server::swap(Service& service, std::shared_ptr<Upstream> next) {
  std::shared_ptr<Upstream> previous = service.swap(std::move(next));
  if (previous) {
    for (auto& worker : workers_) {
      worker->close_idle(previous->id());
    }
  }
  return previous;
}

DrainResult Server::drain(const std::shared_ptr<Upstream>& old, Millis timeout,
                          const DrainProgress& progress) {
  return drain_upstream(*old, timeout, progress, [this, &old] {
    std::vector<std::future<std::size_t>> kills;
    for (auto& worker : workers_) {
      kills.push_back(worker->kill_upstream(old->id()));
    }
    std::size_t closed = 0;
    for (auto& k : kills) {
      closed += k.get();
    }
    return closed;
  });
}

std::uint64_t Server::unrouted() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) {
    n += w->unrouted();
  }
  return n;
}

std::uint64_t Server::tls_failures() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) {
    n += w->tls_failures();
  }
  return n;
}

std::uint64_t Server::rejected() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) {
    n += w->rejected();
  }
  return n;
}

}  // namespace handoff::proxy
