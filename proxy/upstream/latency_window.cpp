#include "proxy/upstream/latency_window.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace handoff::proxy {

using std::chrono::nanoseconds;

std::size_t DurationHistogram::bucket_of(nanoseconds took) {
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(took.count() / 1000, 0));
  if (us < 8) {
    return us;
  }
  // An octave [2^k, 2^(k+1)) with k >= 3 is split by the two bits after the leading one.
  const auto k = static_cast<std::size_t>(std::bit_width(us) - 1);
  const std::size_t quarter = (us >> (k - 2)) & 3;
  return std::min(8 + 4 * (k - 3) + quarter, kBuckets - 1);
}

nanoseconds DurationHistogram::upper_bound(std::size_t b) {
  if (b < 8) {
    return std::chrono::microseconds(b + 1) - nanoseconds(1);
  }
  if (b >= kBuckets - 1) {
    return nanoseconds::max();
  }
  const std::size_t k = 3 + (b - 8) / 4;
  const std::uint64_t quarter = (b - 8) % 4;
  const std::uint64_t next_us =
      (std::uint64_t{1} << k) + (quarter + 1) * (std::uint64_t{1} << (k - 2));
  return std::chrono::microseconds(next_us) - nanoseconds(1);
}

std::uint64_t DurationHistogram::total() const {
  std::uint64_t n = 0;
  for (const std::uint64_t c : counts) {
    n += c;
  }
  return n;
}

nanoseconds DurationHistogram::percentile(double q) const {
  const std::uint64_t n = total();
  if (n == 0) {
    return nanoseconds(0);
  }
  // The rank of the q-quantile: the smallest count that covers a fraction q of the requests.
  const auto rank =
      std::max<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n))), 1);
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += counts[b];
    if (seen >= rank) {
      return upper_bound(b);
    }
  }
  return upper_bound(kBuckets - 1);
}

DurationHistogram& DurationHistogram::operator+=(const DurationHistogram& other) {
  for (std::size_t b = 0; b < kBuckets; ++b) {
    counts[b] += other.counts[b];
  }
  return *this;
}

DurationHistogram& DurationHistogram::operator-=(const DurationHistogram& other) {
  for (std::size_t b = 0; b < kBuckets; ++b) {
    counts[b] -= std::min(counts[b], other.counts[b]);
  }
  return *this;
}

LatencyWindow::LatencyWindow(unsigned threads)
    : threads_(threads), slots_(new Slot[static_cast<std::size_t>(threads) * kSlots]) {}

void LatencyWindow::reset(Slot& slot, std::int64_t second) {
  for (auto& c : slot.counts) {
    c.store(0, std::memory_order_relaxed);
  }
  slot.second.store(second, std::memory_order_relaxed);
}

DurationHistogram LatencyWindow::read(Clock::time_point from, Clock::time_point to) const {
  using std::chrono::seconds;
  const std::int64_t last = std::chrono::duration_cast<seconds>(to.time_since_epoch()).count();
  const std::int64_t first = std::max(
      std::chrono::duration_cast<seconds>(from.time_since_epoch()).count(), last - kSlots + 1);
  DurationHistogram h;
  for (unsigned w = 0; w < threads_; ++w) {
    for (std::int64_t s = first; s <= last; ++s) {
      const Slot& slot =
          slots_[static_cast<std::size_t>(w) * kSlots + static_cast<std::size_t>(s % kSlots)];
      if (slot.second.load(std::memory_order_relaxed) != s) {
        continue;  // nothing finished on this worker in that second
      }
      for (std::size_t b = 0; b < DurationHistogram::kBuckets; ++b) {
        h.counts[b] += slot.counts[b].load(std::memory_order_relaxed);
      }
    }
  }
  return h;
}

}  // namespace handoff::proxy
