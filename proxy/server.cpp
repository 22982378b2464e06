#include "proxy/server.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "proxy/address.hpp"
#include "proxy/listening_socket.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Takes-over are matched by address: an address given with port 0 matches the one the previous
// process bound for it.
bool same_listener(const tcp::endpoint& wanted, const tcp::endpoint& bound) {
  return wanted.address() == bound.address() &&
         (wanted.port() == 0 || wanted.port() == bound.port());
}

tcp::endpoint local_endpoint_of(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  tcp::endpoint ep;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0 &&
      size <= ep.capacity()) {
    std::memcpy(ep.data(), &address, size);
    ep.resize(size);
  }
  return ep;
}

}  // namespace

Server::Server(ProxyConfig config, std::vector<ListeningSocket> inherited)
    : config_(std::move(config)), router_(config_.threads) {
  if (config_.threads == 0) {
    throw std::runtime_error("--threads must be at least 1");
  }
  if (config_.listen.empty() && config_.listen_tls.empty() && inherited.empty()) {
    throw std::runtime_error("no listen address (use --listen HOST:PORT)");
  }
  if (config_.h2_max_streams == 0) {
    throw std::runtime_error("--h2-max-streams must be at least 1");
  }
  tls_.offer_http2(config_.http2);
  for (unsigned i = 0; i < config_.threads; ++i) {
    workers_.push_back(
        std::make_unique<Worker>(i, config_, router_, connections_, tls_, acme_challenges_));
  }
  const std::vector<std::pair<tcp::endpoint, bool>> adopted = adopt(std::move(inherited));
  std::vector<bool> matched(adopted.size(), false);  // each adopted address stands for one flag
  auto already_adopted = [&](const tcp::endpoint& wanted, bool tls) {
    for (std::size_t i = 0; i < adopted.size(); ++i) {
      if (!matched[i] && adopted[i].second == tls && same_listener(wanted, adopted[i].first)) {
        matched[i] = true;
        return true;
      }
    }
    return false;
  };
  for (const tcp::endpoint& requested : config_.listen) {
    if (!already_adopted(requested, false)) {
      bound_.push_back(listen_on(requested, false));
    }
  }
  for (const tcp::endpoint& requested : config_.listen_tls) {
    if (!already_adopted(requested, true)) {
      bound_tls_.push_back(listen_on(requested, true));
    }
  }
  if (!bound_tls_.empty()) {
    config_.https_port = bound_tls_.front().port();  // before the workers start reading it
  }
}

// Every handed-over socket is accepted on, spread over the workers: a socket of an SO_REUSEPORT
// group that nobody accepts on would strand the connections the kernel queues on it. A worker
// left without one for an address gets a new socket in the same group.
std::vector<std::pair<tcp::endpoint, bool>> Server::adopt(std::vector<ListeningSocket> inherited) {
  std::vector<std::pair<tcp::endpoint, bool>> groups;
  std::vector<std::vector<int>> fds;
  for (const ListeningSocket& s : inherited) {
    const tcp::endpoint ep = local_endpoint_of(s.fd);
    auto it = std::find(groups.begin(), groups.end(), std::pair{ep, s.tls});
    if (it == groups.end()) {
      groups.emplace_back(ep, s.tls);
      fds.emplace_back();
      it = groups.end() - 1;
    }
    fds[static_cast<std::size_t>(it - groups.begin())].push_back(s.fd);
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& [ep, tls] = groups[g];
    const std::size_t n = std::max<std::size_t>(fds[g].size(), workers_.size());
    for (std::size_t i = 0; i < n; ++i) {
      Worker& worker = *workers_[i % workers_.size()];
      worker.add_acceptor(i < fds[g].size() ? adopt_acceptor(worker.io(), fds[g][i])
                                            : open_acceptor(worker.io(), ep, true),
                          tls);
    }
    (tls ? bound_tls_ : bound_).push_back(ep);
  }
  return groups;
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
  if (started_) {
    for (auto& worker : workers_) {
      worker->begin_shutdown();
    }
  }
  finish(config_.shutdown_timeout);
}

void Server::hand_over(Millis drain_timeout) {
  if (stopped_) {
    return;
  }
  if (started_) {
    for (auto& worker : workers_) {
      worker->begin_handover();
    }
  }
  finish(drain_timeout);
}

std::vector<ListeningSocket> Server::listening_sockets() const {
  std::vector<ListeningSocket> all;
  for (const auto& worker : workers_) {
    for (const ListeningSocket& s : worker->listening_sockets()) {
      all.push_back(s);
    }
  }
  return all;
}

// Waits up to `timeout` for the open connections, closes what remains and joins the workers.
void Server::finish(Millis timeout) {
  stopped_ = true;
  if (started_) {
    connections_.wait_until_none(Clock::now() + timeout);
    for (auto& worker : workers_) {
      worker->close_all();
    }
    connections_.wait_until_none(Clock::now() + std::chrono::seconds(1));
  }
  for (auto& worker : workers_) {
    worker->join();
  }
}

std::shared_ptr<Upstream> Server::make_upstream(const std::string& address,
                                                std::uint64_t generation) const {
  return make_upstream(address, resolve_address(address).front(), generation);
}

std::shared_ptr<Upstream> Server::make_upstream(const std::string& address,
                                                boost::asio::ip::tcp::endpoint endpoint,
                                                std::uint64_t generation) const {
  auto upstream = std::make_shared<Upstream>(address, endpoint, config_.threads, generation);
  upstream->connection_cap().configure(config_.max_conns_per_member, config_.max_queue_per_member);
  return upstream;
}

std::vector<std::shared_ptr<Upstream>> Server::swap(Service& service,
                                                    std::shared_ptr<const UpstreamSet> next) {
  std::vector<std::shared_ptr<Upstream>> left = service.swap(std::move(next));
  for (const auto& member : left) {
    for (auto& worker : workers_) {
      worker->close_idle(member->id());
    }
  }
  return left;
}

DrainResult Server::drain(const std::vector<std::shared_ptr<Upstream>>& old, Millis timeout,
                          const DrainProgress& progress) {
  return drain_upstreams(old, timeout, progress, [this, &old] {
    std::vector<std::future<std::size_t>> kills;
    for (const auto& member : old) {
      if (member->in_flight() == 0) {
        continue;
      }
      for (auto& worker : workers_) {
        kills.push_back(worker->kill_upstream(member->id()));
      }
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

std::uint64_t Server::calmed() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) {
    n += w->calmed();
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
