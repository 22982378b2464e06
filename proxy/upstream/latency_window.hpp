#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace handoff::proxy {

/// A histogram of request durations: quarter-octave buckets of microseconds, so that any
/// percentile read from it is within a quarter of the true value.
struct DurationHistogram {
  /// Buckets 0..7 hold 0..7 µs exactly; from 8 µs on, each octave has four buckets, up to
  /// 2^27 µs (134 s); the last bucket holds everything longer.
  static constexpr std::size_t kBuckets = 8 + 4 * 24 + 1;

  std::array<std::uint64_t, kBuckets> counts{};

  /// The bucket a duration falls in.
  static std::size_t bucket_of(std::chrono::nanoseconds took);
  /// The longest duration bucket `b` holds (its upper bound).
  static std::chrono::nanoseconds upper_bound(std::size_t b);

  /// Requests counted.
  [[nodiscard]] std::uint64_t total() const;
  /// The duration under which a fraction `q` (0..1) of the requests finished, as the upper
  /// bound of the bucket that holds it; zero when nothing was counted.
  [[nodiscard]] std::chrono::nanoseconds percentile(double q) const;
  /// Adds another histogram's counts.
  DurationHistogram& operator+=(const DurationHistogram& other);
  /// Removes counts that `other` (an earlier reading of the same requests) holds.
  DurationHistogram& operator-=(const DurationHistogram& other);
};

/// The durations of a service's requests over the last minute or two, in one-second slots kept
/// per worker, so that a deploy can report percentiles for the minute before its switch and the
/// time after it. Recording is two relaxed stores on a slot only its worker writes.
class LatencyWindow {
 public:
  using Clock = std::chrono::steady_clock;
  /// Seconds of history kept (one slot per second).
  static constexpr std::int64_t kSlots = 64;

  /// `threads` is the number of data-plane workers.
  explicit LatencyWindow(unsigned threads);

  /// Data plane: counts a request that finished at `now` after `took`, on worker `w`.
  void record(unsigned w, Clock::time_point now, std::chrono::nanoseconds took) {
    const std::int64_t second =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    Slot& slot =
        slots_[static_cast<std::size_t>(w) * kSlots + static_cast<std::size_t>(second % kSlots)];
    if (slot.second.load(std::memory_order_relaxed) != second) {
      reset(slot, second);
    }
    const std::size_t b = DurationHistogram::bucket_of(took);
    slot.counts[b].store(slot.counts[b].load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
  }

  /// The requests that finished in the whole seconds from `from` to `to` (both included,
  /// clamped to the history kept), over all workers.
  [[nodiscard]] DurationHistogram read(Clock::time_point from, Clock::time_point to) const;

 private:
  struct Slot {
    std::atomic<std::int64_t> second{-1};
    std::array<std::atomic<std::uint32_t>, DurationHistogram::kBuckets> counts{};
  };

  static void reset(Slot& slot, std::int64_t second);

  unsigned threads_;
  std::unique_ptr<Slot[]> slots_;  // kSlots per worker, written only by that worker
};

}  // namespace handoff::proxy
