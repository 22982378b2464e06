#include "proxy/worker.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "proxy/http/forward_headers.hpp"
#include "proxy/http1/client_session.hpp"
#include "proxy/nothrow.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
constexpr std::size_t kUpstreamBufferBytes = 32 * 1024;

// A keep-alive connection idle this long is parked: its pending read is cancelled so that it
// can give its buffer back and wait for readability instead. Busy connections keep reading
// straight into their buffer, which saves an epoll_ctl per request over waiting first.
constexpr auto kParkAfter = std::chrono::seconds(1);

std::uint64_t random_prefix() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}
}  // namespace

void SessionHandle::cancel_io() {
  boost::system::error_code ignored;
  if (client != nullptr) {
    client->cancel(ignored);
  }
  if (upstream != nullptr) {
    upstream->cancel(ignored);
  }
  if (hooks != nullptr) {
    hooks->interrupt();
  }
}

void SessionHandle::close_all() {
  boost::system::error_code ignored;
  if (client != nullptr) {
    client->close(ignored);
  }
  if (upstream != nullptr) {
    upstream->close(ignored);
  }
  if (hooks != nullptr) {
    hooks->interrupt();
  }
}

void SessionHandle::kill(std::string_view reason) {
  killed = true;
  kill_reason = reason;
  if (hooks != nullptr) {
    hooks->say_goodbye();
  }
  close_all();
}

Worker::Worker(unsigned index, const ProxyConfig& config, Router& router,
               ConnectionCount& connections, const TlsContext& tls,
               const AcmeChallenges& acme_challenges)
    : index_(index),
      config_(config),
      router_(router),
      connections_(connections),
      tls_(tls),
      acme_challenges_(acme_challenges),
      pool_(config.upstream_max_idle, config.upstream_idle_timeout),
      client_buffers_(std::max<std::size_t>(config.max_header_bytes, 4096), 1024),
      upstream_buffers_(kUpstreamBufferBytes, 256),
      request_ids_(random_prefix()),
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO) {}

Worker::~Worker() {
  join();
  acceptors_.clear();
  pool_.clear();
}

void Worker::add_acceptor(tcp::acceptor acceptor, bool tls) {
  acceptors_.push_back(std::make_unique<Listener>(Listener{std::move(acceptor), tls}));
}

void Worker::start() {
  guard_.emplace(io_.get_executor());
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(io_, accept_loop(*acceptor), asio::detached);
  }
  asio::co_spawn(io_, sweep_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::stop_accepting() {
  stopping_ = true;
  for (auto& acceptor : acceptors_) {
    boost::system::error_code ignored;
    acceptor->acceptor.close(ignored);
  }
  pool_.clear();
  for (SessionHandle& s : sessions_) {
    if (s.hooks != nullptr) {
      s.hooks->stop_requested();
    }
  }
}

void Worker::begin_shutdown() {
  asio::post(io_, [this] {
    stop_accepting();
    for (SessionHandle& s : sessions_) {
      if (s.idle) {
        s.cancel_io();
      }
    }
  });
}

void Worker::begin_handover() {
  asio::post(io_, [this] {
    handing_over_ = true;
    stop_accepting();
  });
}

std::vector<ListeningSocket> Worker::listening_sockets() const {
  std::vector<ListeningSocket> all;
  for (const auto& listener : acceptors_) {
    all.push_back(ListeningSocket{listener->acceptor.native_handle(), listener->tls});
  }
  return all;
}

void Worker::close_all() {
  asio::post(io_, [this] {
    for (SessionHandle& s : sessions_) {
      s.kill("closed at the shutdown timeout");
    }
    pool_.clear();
  });
}

void Worker::join() {
  if (thread_.joinable()) {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
}

void Worker::close_idle(std::uint64_t upstream_id) {
  asio::post(io_, [this, upstream_id] { pool_.close(upstream_id); });
}

std::future<std::size_t> Worker::kill_upstream(std::uint64_t upstream_id) {
  auto promise = std::make_shared<std::promise<std::size_t>>();
  std::future<std::size_t> result = promise->get_future();
  asio::post(io_, [this, upstream_id, promise] {
    std::size_t killed = 0;
    for (SessionHandle& s : sessions_) {
      if (s.upstream != nullptr && s.upstream_id == upstream_id) {
        s.kill("closed at the drain timeout");
        ++killed;
      }
    }
    pool_.close(upstream_id);
    promise->set_value(killed);
  });
  return result;
}

void Worker::attach(SessionHandle& session) {
  sessions_.push_back(session);
}

void Worker::detach(SessionHandle& session) {
  session.unlink();
  connections_.close();
}

std::string_view Worker::next_request_id() {
  return request_ids_.next();
}

Clock::time_point Worker::deadline_after(Millis timeout) const {
  return now_ + timeout + kSweepInterval;
}

void Worker::refuse(tcp::socket& socket, bool tls) {
  // Best effort and never blocking: the client learns why before the connection closes. A TLS
  // client is closed without a word: an answer would need a handshake, the very cost the limit
  // protects against.
  static const std::string reply = make_plain_response(503, "handoff: too many connections", true);
  if (!tls) {
    ::send(socket.native_handle(), reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  boost::system::error_code ignored;
  socket.close(ignored);
}

asio::awaitable<void> Worker::accept_loop(Listener& listener) {
  tcp::acceptor& acceptor = listener.acceptor;
  const TlsContext* tls = listener.tls ? &tls_ : nullptr;
  asio::steady_timer backoff(io_);
  bool starved = false;  // out of descriptors; reported once until accepts succeed again
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        break;
      }
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory || ec.value() == ENFILE) {
        // Out of file descriptors: wait for connections to close instead of spinning.
        if (!starved) {
          fmt::print(stderr, "handoff: accept failed ({}); pausing accepts, 100 ms at a time\n",
                     ec.message());
          starved = true;
        }
        backoff.expires_after(std::chrono::milliseconds(100));
        co_await backoff.async_wait(nothrow);
      }
      continue;
    }
    starved = false;
    if (!connections_.try_open(config_.max_connections)) {
      refuse(socket, listener.tls);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(io_, serve_client(*this, std::move(socket), tls), [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          fmt::print(stderr, "handoff: connection failed: {}\n", ex.what());
        }
      }
    });
  }
}

asio::awaitable<void> Worker::sweep_loop() {
  asio::steady_timer timer(io_);
  unsigned ticks = 0;
  while (true) {
    timer.expires_after(kSweepInterval);
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec) {
      co_return;
    }
    const auto now = Clock::now();
    now_ = now;
    for (SessionHandle& s : sessions_) {
      if (s.deadline <= now) {
        s.deadline = Clock::time_point::max();
        s.timed_out = true;
        s.cancel_io();
      } else if (s.idle && !s.parked && now - s.idle_since >= kParkAfter) {
        s.parked = true;
        s.cancel_io();
      }
    }
    if (++ticks % 10 == 0) {
      pool_.expire(now);
    }
  }
}

}  // namespace handoff::proxy
