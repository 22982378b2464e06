#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "proxy/upstream/connection_cap.hpp"
#include "proxy/upstream/drain.hpp"

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

/// Why a member of an upstream set is left out of balancing (`none`: it is not).
enum class Ejection : std::uint8_t {
  none,
  connect_error,   ///< a connect to it failed (passive)
  server_errors,   ///< it answered a burst of consecutive 5xx (passive)
  failed_checks,   ///< it failed the active health checks
  container_died,  ///< the engine reported its container dead
};

/// Consecutive upstream 5xx answers that eject a member.
inline constexpr std::uint32_t kServerErrorBurst = 5;

/// One backend address that requests go to: a member of its service's upstream set. A swap
/// never changes an Upstream's address; it installs a new set, so everything counted here
/// belongs to exactly one member of one generation. Its health (`ejected`) is the one thing
/// that changes: the data plane ejects it on failures, the control plane's checks readmit it.
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
  /// Why the member is left out of balancing; `Ejection::none` when it is not.
  [[nodiscard]] Ejection ejection() const {
    return static_cast<Ejection>(ejection_.load(std::memory_order_relaxed));
  }
  /// Whether balancing leaves the member out (it still serves when every member is out).
  [[nodiscard]] bool ejected() const { return ejection() != Ejection::none; }
  /// Leaves the member out of balancing for `why`. A reason already recorded stays, except
  /// that a dead container, the surest one, replaces any.
  void eject(Ejection why) {
    if (why == Ejection::container_died) {
      ejection_.store(static_cast<std::uint8_t>(why), std::memory_order_relaxed);
      return;
    }
    auto none = static_cast<std::uint8_t>(Ejection::none);
    ejection_.compare_exchange_strong(none, static_cast<std::uint8_t>(why),
                                      std::memory_order_relaxed);
  }
  /// Takes the member back into balancing (it passed its checks).
  void readmit() {
    failures_.store(0, std::memory_order_relaxed);
    ejection_.store(static_cast<std::uint8_t>(Ejection::none), std::memory_order_relaxed);
  }
  /// Consecutive failures (connect errors, 5xx) seen since its last success: how bad an ejected
  /// member is when every member is ejected.
  [[nodiscard]] std::uint32_t failures() const { return failures_.load(std::memory_order_relaxed); }
  /// Data plane: a connect to the member failed on worker `w`; it is ejected.
  void note_connect_failure(unsigned w) {
    auto& n = counters_[w].connect_errors;
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    failures_.fetch_add(1, std::memory_order_relaxed);
    eject(Ejection::connect_error);
  }
  /// Data plane: the member answered `status`; a burst of consecutive 5xx ejects it. A success
  /// writes the shared count only when it is not zero already.
  void note_answer(int status) {
    if (status >= 500) {
      if (failures_.fetch_add(1, std::memory_order_relaxed) + 1 >= kServerErrorBurst) {
        eject(Ejection::server_errors);
      }
    } else if (failures_.load(std::memory_order_relaxed) != 0) {
      failures_.store(0, std::memory_order_relaxed);
    }
  }
  /// Data plane: a request on worker `w` took `took_us` from start to end, at `now_ms`
  /// (steady clock). Kept as that worker's moving average (weight 1/8 per sample).
  void note_latency(unsigned w, std::uint32_t took_us, std::int64_t now_ms) {
    Counters& c = counters_[w];
    const std::uint64_t before = c.latency_us.load(std::memory_order_relaxed);
    const std::uint64_t next = before == 0 ? took_us : (before * 7 + took_us) / 8;
    c.latency_us.store(static_cast<std::uint32_t>(std::max<std::uint64_t>(next, 1)),
                       std::memory_order_relaxed);
    c.sampled_at_ms.store(now_ms, std::memory_order_relaxed);
  }
  /// Worker `w`'s average request time here (at least 1 µs), halved for every 500 ms without
  /// a sample, so that a member once slow is tried again.
  [[nodiscard]] std::uint64_t latency_estimate(unsigned w, std::int64_t now_ms) const {
    const Counters& c = counters_[w];
    const std::uint64_t latency = c.latency_us.load(std::memory_order_relaxed);
    const std::int64_t idle = now_ms - c.sampled_at_ms.load(std::memory_order_relaxed);
    const auto halvings = static_cast<unsigned>(std::clamp<std::int64_t>(idle / 500, 0, 31));
    return std::max<std::uint64_t>(latency >> halvings, 1);
  }
  /// Failed connects to the member, over all workers.
  [[nodiscard]] std::uint64_t connect_errors() const;

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
  /// The cap on the member's connections in use, and the queue of requests over it.
  ConnectionCap& connection_cap() { return cap_; }
  /// The cap, read-only (status and metrics).
  [[nodiscard]] const ConnectionCap& connection_cap() const { return cap_; }
  /// Data plane: counts how a request ended on worker `w` (only that worker writes its line).
  void count_outcome(unsigned w, RequestOutcome outcome) {
    auto& n = counters_[w].outcomes[static_cast<std::size_t>(outcome)];
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

 private:
  // One cache line per worker, so that workers never write the same line.
  struct alignas(64) Counters {
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::uint64_t> connect_errors{0};
    std::atomic<std::uint32_t> latency_us{0};    // moving average; 0: no sample yet
    std::atomic<std::int64_t> sampled_at_ms{0};  // steady clock, of the last sample
    std::array<std::atomic<std::uint64_t>, std::tuple_size_v<OutcomeCounts>> outcomes{};
  };

  std::string address_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::uint64_t id_;
  std::uint64_t generation_;
  unsigned threads_;
  std::unique_ptr<Counters[]> counters_;
  alignas(64) std::atomic<bool> retired_{false};  // read by every request; written once
  // Read by every pick; written on failures, on the first success after one, and by checks.
  alignas(64) std::atomic<std::uint8_t> ejection_{0};
  std::atomic<std::uint32_t> failures_{0};
  DrainSignal drain_signal_;
  alignas(64) ConnectionCap cap_;  // its limit is read by every exchange; set once
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
