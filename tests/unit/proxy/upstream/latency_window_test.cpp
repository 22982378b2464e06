#include "proxy/upstream/latency_window.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace handoff::proxy;
using namespace std::chrono_literals;
using Clock = LatencyWindow::Clock;

TEST_CASE("every duration falls in a bucket whose bound is at most a quarter above it") {
  for (std::int64_t us = 0; us < (std::int64_t{1} << 27); us = us < 64 ? us + 1 : us * 9 / 8) {
    const std::chrono::nanoseconds took = std::chrono::microseconds(us) + 500ns;
    const std::size_t b = DurationHistogram::bucket_of(took);
    CAPTURE(us);
    REQUIRE(b < DurationHistogram::kBuckets - 1);
    CHECK(DurationHistogram::upper_bound(b) >= took);
    CHECK(DurationHistogram::upper_bound(b) <= std::chrono::microseconds(us + 1) + took / 4);
    if (b > 0) {
      CHECK(DurationHistogram::upper_bound(b - 1) < took);
    }
  }
  CHECK(DurationHistogram::bucket_of(-5ns) == 0);
  CHECK(DurationHistogram::bucket_of(1h) == DurationHistogram::kBuckets - 1);
}

TEST_CASE("percentiles come from the bucket that holds the rank") {
  DurationHistogram h;
  CHECK(h.percentile(0.5) == 0ns);
  for (int i = 0; i < 98; ++i) {
    ++h.counts[DurationHistogram::bucket_of(1ms)];
  }
  ++h.counts[DurationHistogram::bucket_of(50ms)];
  ++h.counts[DurationHistogram::bucket_of(2s)];
  CHECK(h.total() == 100);
  const auto p50 = h.percentile(0.5);
  CHECK(p50 >= 1ms);
  CHECK(p50 < 1250us);
  CHECK(h.percentile(0.99) >= 50ms);
  CHECK(h.percentile(0.99) < 63ms);
  CHECK(h.percentile(1.0) >= 2s);
}

TEST_CASE("a window reads the seconds asked for, over every worker, and forgets old seconds") {
  LatencyWindow window(2);
  const Clock::time_point t0 = Clock::time_point(1000s);
  window.record(0, t0, 1ms);
  window.record(1, t0 + 300ms, 2ms);
  window.record(1, t0 + 1s, 3ms);
  window.record(0, t0 + 5s, 4ms);
  CHECK(window.read(t0, t0).total() == 2);
  CHECK(window.read(t0, t0 + 1s).total() == 3);
  CHECK(window.read(t0 + 2s, t0 + 4s).total() == 0);
  CHECK(window.read(t0 - 60s, t0 + 60s).total() == 4);
  // A slot is reused a whole history later: what was there before is not counted again.
  window.record(0, t0 + std::chrono::seconds(LatencyWindow::kSlots), 7ms);
  CHECK(window.read(t0, t0).total() == 1);  // worker 1's count of that second is still there
  CHECK(window
            .read(t0 + std::chrono::seconds(LatencyWindow::kSlots),
                  t0 + std::chrono::seconds(LatencyWindow::kSlots))
            .total() == 1);
}

TEST_CASE("a reading taken earlier can be taken away from a later one") {
  LatencyWindow window(1);
  const Clock::time_point t = Clock::time_point(50s) + 200ms;
  window.record(0, t, 1ms);
  const DurationHistogram before = window.read(t, t);
  window.record(0, t + 100ms, 9ms);
  DurationHistogram after = window.read(t, t + 2s);
  after -= before;
  CHECK(after.total() == 1);
  CHECK(after.percentile(0.5) >= 9ms);
}
