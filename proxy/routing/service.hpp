#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/routing/canary.hpp"
#include "proxy/routing/shared_slot.hpp"
#include "proxy/upstream/latency_window.hpp"
#include "proxy/upstream/upstream.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::proxy {

/// Upper bounds (seconds) of the request-duration histogram's buckets: Prometheus's defaults.
inline constexpr std::array<double, 11> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10};

/// Per-service counters, summed over workers.
struct ServiceCounters {
  /// Requests per duration bucket (not cumulative); the last one is beyond every bound.
  std::array<std::uint64_t, kDurationBuckets.size() + 1> duration_buckets{};
  double duration_sum = 0;                   ///< seconds, over all requests
  std::array<std::uint64_t, 6> responses{};  ///< by status class: [1] = 1xx ... [5] = 5xx
  std::uint64_t connect_errors = 0;          ///< failed connects to its upstreams
  std::uint64_t closed_at_drain = 0;         ///< requests cut at a drain timeout or shutdown
  std::uint64_t unfinished = 0;  ///< requests that ended without a whole answer otherwise
  std::array<std::uint64_t, 6> canary_responses{};  ///< of `responses`, the canary's answers
};

/// What a request held past its service's max pause is told.
struct PauseNotice {
  std::string message;                  ///< the 503's body (a maintenance note); may be empty
  std::chrono::seconds retry_after{5};  ///< sent as Retry-After
};

/// A named application behind the proxy. Its requests go to the members of one upstream set,
/// replaced by `swap` with a single atomic store; a request picks its member once, when it
/// starts.
class Service : public std::enable_shared_from_this<Service> {
 public:
  /// `threads` is the number of data-plane workers (each keeps its own cached pointer);
  /// `initial` may be null (503 until a swap); `balancing` is how requests pick a member.
  Service(std::string name, unsigned threads, std::shared_ptr<const UpstreamSet> initial,
          Balancing balancing = Balancing::least_of_two);

  /// The service's name, e.g. `default`.
  [[nodiscard]] const std::string& name() const { return name_; }
  /// The set new requests go to (may be null: the service answers 503).
  [[nodiscard]] std::shared_ptr<const UpstreamSet> upstreams() const { return current_.load(); }

  /// Makes `next` current. The members of the previous set that `next` does not hold are
  /// marked retired and returned: when this returns, no request that starts afterwards can be
  /// counted on them. Members in both sets serve on undisturbed.
  std::vector<std::shared_ptr<Upstream>> swap(std::shared_ptr<const UpstreamSet> next);

  /// Runs `set` as the canary beside the serving set, taking `share` of kCanaryBuckets (null
  /// `set`: no canary). Returns the previous canary's members the new one does not hold,
  /// retired (none when only the share changes).
  std::vector<std::shared_ptr<Upstream>> set_canary(std::shared_ptr<const UpstreamSet> set,
                                                    std::uint32_t share);
  /// Makes the canary set the serving set and ends the canary, one store each, before a single
  /// bump that requests see. Returns the serving members the canary does not hold, retired.
  /// Nothing happens (empty) when there is no canary.
  std::vector<std::shared_ptr<Upstream>> promote_canary();
  /// The canary (null when none runs).
  [[nodiscard]] std::shared_ptr<const Canary> canary() const { return canary_.load(); }
  /// Whether a canary runs.
  [[nodiscard]] bool canary_running() const { return canary() != nullptr; }

  /// Data plane: binds a new request on worker `w` to a member of the current set (never
  /// `avoid`, the member a retry leaves) and counts it in flight there. While a canary runs and
  /// `placement` is given, the client's bucket picks the set (see Placement); a canary with no
  /// other member than `avoid` leaves the request to the serving set. Empty when the service
  /// has no upstream (or none but `avoid`). Lock-free.
  InFlight acquire(unsigned w, const Upstream* avoid = nullptr, Placement* placement = nullptr);
  /// Data plane: moves `flight` (bound on worker `w`) to another member of the set it was
  /// placed in. False, leaving it as it is, when there is no other member.
  bool rebind(unsigned w, InFlight& flight, Placement* placement = nullptr) {
    InFlight next = acquire(w, flight.get(), placement);
    if (!next) {
      return false;
    }
    flight = std::move(next);
    return true;
  }

  /// Holds new requests until `resume`; each waits at most `max_pause`, then gets 503 with
  /// `notice`. Requests already in flight are not affected.
  void pause(std::chrono::milliseconds max_pause, PauseNotice notice = {}) {
    notice_.exchange(std::make_shared<const PauseNotice>(std::move(notice)));
    max_pause_ms_.store(max_pause.count());
    paused_.store(true);
  }
  /// What a request held too long is told (read only when answering one).
  [[nodiscard]] std::shared_ptr<const PauseNotice> pause_notice() const { return notice_.load(); }
  /// Lets held and new requests through again.
  void resume() { paused_.store(false); }
  /// Whether new requests are being held.
  [[nodiscard]] bool paused() const { return paused_.load(std::memory_order_relaxed); }
  /// How long a held request waits before it is answered 503.
  [[nodiscard]] std::chrono::milliseconds max_pause() const {
    return std::chrono::milliseconds(max_pause_ms_.load());
  }

  /// Sets what the service asks of HTTP: plain requests redirected to HTTPS, and the
  /// Strict-Transport-Security max-age sent over HTTPS (0: none).
  void set_https_policy(bool redirect, std::uint32_t hsts_seconds) {
    redirect_https_.store(redirect, std::memory_order_relaxed);
    hsts_seconds_.store(hsts_seconds, std::memory_order_relaxed);
  }
  /// Whether plain HTTP requests are redirected to HTTPS.
  [[nodiscard]] bool redirect_https() const {
    return redirect_https_.load(std::memory_order_relaxed);
  }
  /// The HSTS max-age in seconds (0: no Strict-Transport-Security field).
  [[nodiscard]] std::uint32_t hsts_seconds() const {
    return hsts_seconds_.load(std::memory_order_relaxed);
  }

  /// Data plane: counts a finished request by the status class answered on worker `w`, and
  /// apart when the canary answered it.
  void count_response(unsigned w, int status, bool canary = false) {
    const unsigned cls = status >= 100 && status < 600 ? static_cast<unsigned>(status / 100) : 0;
    stats_[w].responses[cls].fetch_add(1, std::memory_order_relaxed);
    if (canary) {
      stats_[w].canary_responses[cls].fetch_add(1, std::memory_order_relaxed);
    }
  }
  /// Data plane: adds the duration of a request that finished at `now` to the histograms on
  /// worker `w`.
  void count_duration(unsigned w, LatencyWindow::Clock::time_point now,
                      std::chrono::nanoseconds took) {
    latency_.record(w, now, took);
    const double seconds = std::chrono::duration<double>(took).count();
    std::size_t bucket = 0;
    while (bucket < kDurationBuckets.size() && seconds > kDurationBuckets[bucket]) {
      ++bucket;
    }
    stats_[w].duration_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    stats_[w].duration_ns.fetch_add(static_cast<std::uint64_t>(took.count()),
                                    std::memory_order_relaxed);
  }
  /// Data plane: counts a failed connect to the upstream on worker `w`.
  void count_connect_error(unsigned w) {
    stats_[w].connect_errors.fetch_add(1, std::memory_order_relaxed);
  }
  /// Data plane: counts a request that ended without a whole answer on worker `w`: cut at a
  /// drain timeout or forced shutdown (`killed`), or else (client gone, upstream cut mid-body).
  void count_unfinished(unsigned w, bool killed) {
    (killed ? stats_[w].closed_at_drain : stats_[w].unfinished)
        .fetch_add(1, std::memory_order_relaxed);
  }
  /// The counters, summed over workers.
  [[nodiscard]] ServiceCounters counters() const;
  /// Request durations of the last minute or so, for a deploy's report.
  [[nodiscard]] const LatencyWindow& latency() const { return latency_; }

 private:
  struct alignas(64) Cache {
    std::uint64_t swaps = 0;  // swaps_ when `set` was read
    std::shared_ptr<const UpstreamSet> set;
    std::shared_ptr<const Canary> canary;
    PickState picks;
  };

  // The set a request of `placement` goes to, from this worker's cached pointers; `request`
  // holds its cookie (read only while a canary runs).
  const UpstreamSet* place(Cache& cache, Placement* placement, const MessageHead* request) const;

  std::string name_;
  Balancing balancing_;
  SharedSlot<const UpstreamSet> current_;
  SharedSlot<const Canary> canary_{nullptr};
  std::atomic<std::uint64_t> swaps_{1};  // bumped by every change of either slot; see acquire
  struct alignas(64) Stats {
    std::array<std::atomic<std::uint64_t>, 6> responses{};
    std::array<std::atomic<std::uint64_t>, 6> canary_responses{};
    std::atomic<std::uint64_t> connect_errors{0};
    std::atomic<std::uint64_t> closed_at_drain{0};
    std::atomic<std::uint64_t> unfinished{0};
    std::array<std::atomic<std::uint64_t>, kDurationBuckets.size() + 1> duration_buckets{};
    std::atomic<std::uint64_t> duration_ns{0};
  };

  unsigned threads_;
  std::unique_ptr<Cache[]> cache_;  // one per worker, touched only by that worker
  std::unique_ptr<Stats[]> stats_;  // one per worker, written only by that worker
  LatencyWindow latency_;
  std::atomic<bool> paused_{false};
  std::atomic<bool> redirect_https_{false};
  std::atomic<std::uint32_t> hsts_seconds_{0};
  std::atomic<std::int64_t> max_pause_ms_{30'000};
  SharedSlot<const PauseNotice> notice_{std::make_shared<const PauseNotice>()};
};

}  // namespace handoff::proxy
