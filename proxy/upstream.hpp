#pragma once

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "proxy/drain.hpp"

namespace handoff::proxy {

/// How a request bound to an upstream ended, as a deploy reports it.
enum class RequestOutcome : std::uint8_t {
  answered,       ///< a whole response below 500
  upstream_5xx,   ///< a whole 5xx response from the upstream
  proxy_5xx,      ///< handoff answered 5xx: the upstream timed out or sent a bad response
  connect_error,  ///< no connection to the upstream (answered 502 or 504)
  cut_at_drain,   ///< closed at a drain timeout or a forced shutdown
  incomplete,     ///< ended without a whole response otherwise (client gone, upstream cut)
};

/// Requests by how they ended, indexed by RequestOutcome.
using OutcomeCounts = std::array<std::uint64_t, 6>;

/// One backend address that requests go to. A swap never changes an Upstream; it installs a
/// new one, so everything counted here belongs to exactly one generation of a service.
class Upstream {
 public:
  /// `threads` is the number of data-plane workers, each of which counts separately.
  /// `generation` numbers the upstreams a service has had (for status and metrics).
  Upstream(std::string address, boost::asio::ip::tcp::endpoint endpoint, unsigned threads,
           std::uint64_t generation = 0);

  /// The address as the user wrote it, e.g. `127.0.0.1:9000`.
  [[nodiscard]] const std::string& address() const { return address_; }
  /// Where connections go.
  [[nodiscard]] const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }
  /// Unique within the process; keys the per-worker connection pools.
  [[nodiscard]] std::uint64_t id() const { return id_; }
  /// Which generation of its service this upstream is.
  [[nodiscard]] std::uint64_t generation() const { return generation_; }

  /// Requests currently in flight on this upstream, over all workers.
  [[nodiscard]] std::int64_t in_flight() const;
  /// Finished requests by how they ended, over all workers.
  [[nodiscard]] OutcomeCounts outcomes() const;

  /// Set once the upstream has been swapped out: its connections are no longer pooled.
  [[nodiscard]] bool retired() const { return retired_.load(std::memory_order_acquire); }
  /// Marks the upstream as swapped out: from now on, a request that ends on it wakes a drain.
  void retire() { retired_.store(true, std::memory_order_seq_cst); }
  /// What a drain of this upstream waits on.
  DrainSignal& drain_signal() { return drain_signal_; }

  /// Counts a request in flight on worker `w` (data plane only).
  void enter(unsigned w) { counters_[w].in_flight.fetch_add(1, std::memory_order_seq_cst); }
  /// Undoes `enter` when the request finishes or did not start after all.
  void leave(unsigned w) {
    counters_[w].in_flight.fetch_sub(1, std::memory_order_seq_cst);
    // Either the drain sees this decrement when it reads the count after `retire`, or this
    // sees `retired_` and wakes it (both sequentially consistent).
    if (retired_.load(std::memory_order_seq_cst)) {
      drain_signal_.ring();
    }
  }
  /// Data plane: counts how a request ended on worker `w` (only that worker writes its line).
  void count_outcome(unsigned w, RequestOutcome outcome) {
    auto& n = counters_[w].outcomes[static_cast<std::size_t>(outcome)];
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

 private:
  // One cache line per worker, so that workers never write the same line.
  struct alignas(64) Counters {
    std::atomic<std::int64_t> in_flight{0};
    std::array<std::atomic<std::uint64_t>, std::tuple_size_v<OutcomeCounts>> outcomes{};
  };

  std::string address_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::uint64_t id_;
  std::uint64_t generation_;
  unsigned threads_;
  std::unique_ptr<Counters[]> counters_;
  alignas(64) std::atomic<bool> retired_{false};  // read by every request; written once
  DrainSignal drain_signal_;
};

/// Counts one request in flight on an upstream for as long as it lives (RAII).
class InFlight {
 public:
  InFlight() = default;
  /// Takes over a count already made with `Upstream::enter(worker)`.
  InFlight(std::shared_ptr<Upstream> upstream, unsigned worker)
      : upstream_(std::move(upstream)), worker_(worker) {}
  InFlight(InFlight&& other) noexcept = default;
  InFlight& operator=(InFlight&& other) noexcept {
    release();
    upstream_ = std::move(other.upstream_);
    worker_ = other.worker_;
    return *this;
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() { release(); }

  /// The upstream this request is bound to, or null when the service had none.
  [[nodiscard]] Upstream* get() const { return upstream_.get(); }
  /// Whether a request is being counted.
  explicit operator bool() const { return static_cast<bool>(upstream_); }

 private:
  void release() {
    if (upstream_) {
      upstream_->leave(worker_);
      upstream_.reset();
    }
  }

  std::shared_ptr<Upstream> upstream_;
  unsigned worker_ = 0;
};

}  // namespace handoff::proxy
