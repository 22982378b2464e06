#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "proxy/buffer.hpp"
#include "proxy/config.hpp"
#include "proxy/connection_count.hpp"
#include "proxy/listening_socket.hpp"
#include "proxy/request_ids.hpp"
#include "proxy/routing/router.hpp"
#include "proxy/tls/acme_challenges.hpp"
#include "proxy/tls/tls_context.hpp"
#include "proxy/upstream/connection_pool.hpp"
#include "proxy/upstream/splice_pipe.hpp"

namespace handoff::proxy {

using Clock = std::chrono::steady_clock;

/// What a connection does when its worker acts on it from outside its coroutines. Each call
/// is made on the worker's thread and must not wait.
class SessionHooks {
 public:
  /// The connection is closed for a drain or shutdown timeout: last words in the protocol it
  /// speaks (a WebSocket close frame), if they can go out now.
  virtual void say_goodbye() {}
  /// Its sockets were cancelled or closed (a timeout, a kill): wake any wait that is not on a
  /// socket of its own (an HTTP/2 stream waits for its connection, not for a socket).
  virtual void interrupt() {}
  /// The worker stopped accepting (shutdown or handover): finish what runs, take nothing new
  /// (an HTTP/2 connection sends GOAWAY).
  virtual void stop_requested() {}

 protected:
  ~SessionHooks() = default;
};

/// The part of a client connection that its worker acts on from outside the connection's
/// coroutine: timeouts, drain deadlines and shutdown close its sockets.
struct SessionHandle
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  boost::asio::ip::tcp::socket* client = nullptr;
  boost::asio::ip::tcp::socket* upstream = nullptr;  ///< set while an exchange is running
  std::uint64_t upstream_id = 0;                     ///< the exchange's upstream
  Clock::time_point deadline = Clock::time_point::max();
  bool timed_out = false;         ///< the deadline passed and the sockets were cancelled
  bool idle = false;              ///< waiting for the next request on a keep-alive connection
  bool parked = false;            ///< idle long enough to give its buffers back (see Worker)
  Clock::time_point idle_since;   ///< when the connection became idle
  bool killed = false;            ///< closed by a drain timeout or a forced shutdown
  std::string_view kill_reason;   ///< why, for the access log
  SessionHooks* hooks = nullptr;  ///< what the connection does when acted on (may be null)

  /// Closes the connection for a drain or shutdown timeout (`reason`, a literal), saying
  /// goodbye first where the tunnel's protocol allows.
  void kill(std::string_view reason);

  /// Cancels whatever the connection is waiting on.
  void cancel_io();
  /// Closes both sockets for good.
  void close_all();
};

/// Intrusive list of a worker's live connections.
using SessionList =
    boost::intrusive::list<SessionHandle, boost::intrusive::constant_time_size<false>>;

/// One data-plane thread: its own io_context, its own SO_REUSEPORT acceptors, its own upstream
/// connection pool and buffers. Nothing here is shared with other workers, so the request path
/// takes no lock (the nginx worker model).
class Worker {
 public:
  /// `connections` is the server-wide count of open client connections.
  Worker(unsigned index, const ProxyConfig& config, Router& router, ConnectionCount& connections,
         const TlsContext& tls, const AcmeChallenges& acme_challenges);
  ~Worker();

  /// Adds a bound, listening acceptor (before `start`); its clients speak TLS when `tls`.
  void add_acceptor(boost::asio::ip::tcp::acceptor acceptor, bool tls);
  /// Starts the thread.
  void start();
  /// Stops accepting and closes idle keep-alive connections; busy ones close after their
  /// current response. Thread-safe.
  void begin_shutdown();
  /// Stops accepting for a successor process (see Server::hand_over); unlike a shutdown, idle
  /// keep-alive connections stay open for their next request, answered with
  /// `Connection: close` (closing one could cross a request on its way). Thread-safe.
  void begin_handover();
  /// The listening sockets (call before `begin_shutdown` or `begin_handover`).
  [[nodiscard]] std::vector<ListeningSocket> listening_sockets() const;
  /// Closes every connection that is still open. Thread-safe.
  void close_all();
  /// Stops the event loop and joins the thread.
  void join();

  /// Closes idle pooled connections to an upstream that was swapped out. Thread-safe.
  void close_idle(std::uint64_t upstream_id);
  /// Closes every exchange still running on the upstream; the future gives how many.
  std::future<std::size_t> kill_upstream(std::uint64_t upstream_id);

  // Used by the connections that run on this worker, from its thread only.

  /// This worker's number, from 0.
  [[nodiscard]] unsigned index() const { return index_; }
  /// The event loop.
  boost::asio::io_context& io() { return io_; }
  /// The server's configuration.
  [[nodiscard]] const ProxyConfig& config() const { return config_; }
  /// The route table.
  Router& router() { return router_; }
  /// ACME HTTP-01 answers, read before routing.
  [[nodiscard]] const AcmeChallenges& acme_challenges() const { return acme_challenges_; }
  /// Idle upstream connections.
  ConnectionPool& pool() { return pool_; }
  /// Blocks for client request heads and bodies.
  BufferPool& client_buffers() { return client_buffers_; }
  /// Blocks for upstream responses.
  BufferPool& upstream_buffers() { return upstream_buffers_; }
  /// Empty pipes for large bodies moved by splice(2).
  SplicePipes& splice_pipes() { return splice_pipes_; }
  /// Whether the server is shutting down.
  [[nodiscard]] bool stopping() const { return stopping_; }
  /// Whether it stops because a successor took over (not for a shutdown): a keep-alive
  /// connection is then never cut between requests, since a client may be sending its next one.
  [[nodiscard]] bool handing_over() const { return handing_over_; }
  /// Registers a connection for timeouts and shutdown.
  void attach(SessionHandle& session);
  /// Unregisters a connection.
  void detach(SessionHandle& session);
  /// Registers one stream of a multiplexed connection (HTTP/2) for its own timeouts, drain and
  /// shutdown; it is not counted as a connection, and unregisters itself when destroyed.
  void attach_stream(SessionHandle& stream) { sessions_.push_back(stream); }
  /// Counts a request answered before it reached a service: refused as malformed or over a
  /// limit (`unrouted` false), or for a Host no service claims (404).
  void count_refused(bool unrouted) {
    (unrouted ? unrouted_ : rejected_).fetch_add(1, std::memory_order_relaxed);
  }
  /// Counts an HTTP/2 connection ended with ENHANCE_YOUR_CALM for abusing a limit.
  void count_calmed() { calmed_.fetch_add(1, std::memory_order_relaxed); }
  /// HTTP/2 connections ended with ENHANCE_YOUR_CALM, so far.
  [[nodiscard]] std::uint64_t calmed() const { return calmed_.load(); }
  /// Counts a TLS connection closed because its handshake failed or timed out.
  void count_tls_failure() { tls_failures_.fetch_add(1, std::memory_order_relaxed); }
  /// TLS handshakes that failed or timed out, so far.
  [[nodiscard]] std::uint64_t tls_failures() const { return tls_failures_.load(); }
  /// Requests for hosts no service claims, so far.
  [[nodiscard]] std::uint64_t unrouted() const { return unrouted_.load(); }
  /// Requests refused before routing (400, 408, 413, 431, 501, 505), so far.
  [[nodiscard]] std::uint64_t rejected() const { return rejected_.load(); }
  /// A fresh request id: 32 hex digits, unique per process.
  std::string_view next_request_id();
  /// A deadline `timeout` from now, read from a clock the sweeper refreshes each tick (reading
  /// the real clock costs a vDSO call per I/O phase). Never early; at most two ticks late.
  [[nodiscard]] Clock::time_point deadline_after(Millis timeout) const;
  /// The time of the sweeper's last tick (at most 100 ms old).
  [[nodiscard]] Clock::time_point coarse_now() const { return now_; }

 private:
  /// A listening socket, and whether its clients speak TLS.
  struct Listener {
    boost::asio::ip::tcp::acceptor acceptor;
    bool tls;
  };

  boost::asio::awaitable<void> accept_loop(Listener& listener);
  // Closes the acceptors and the idle upstream connections; responses from now on say
  // `Connection: close`. On the worker's thread.
  void stop_accepting();
  boost::asio::awaitable<void> sweep_loop();
  void refuse(boost::asio::ip::tcp::socket& socket, bool tls);

  unsigned index_;
  const ProxyConfig& config_;
  Router& router_;
  ConnectionCount& connections_;
  const TlsContext& tls_;
  const AcmeChallenges& acme_challenges_;
  std::vector<std::unique_ptr<Listener>> acceptors_;
  ConnectionPool pool_;
  BufferPool client_buffers_;
  BufferPool upstream_buffers_;
  SplicePipes splice_pipes_;
  SessionList sessions_;
  bool stopping_ = false;
  bool handing_over_ = false;
  std::atomic<std::uint64_t> unrouted_{0};  // written by this worker, read by the control plane
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> tls_failures_{0};
  std::atomic<std::uint64_t> calmed_{0};
  Clock::time_point now_ = Clock::now();  // refreshed by the sweeper
  RequestIds request_ids_;
  std::thread thread_;
  // Declared last so that it is destroyed first: destroying it destroys suspended connection
  // coroutines, which give their buffers back to the pools above.
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
};

}  // namespace handoff::proxy
