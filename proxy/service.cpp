#include "proxy/service.hpp"

namespace handoff::proxy {

Service::Service(std::string name, unsigned threads, std::shared_ptr<const UpstreamSet> initial,
                 Balancing balancing)
    : name_(std::move(name)),
      balancing_(balancing),
      current_(std::move(initial)),
      threads_(threads),
      cache_(new Cache[threads]),
      stats_(new Stats[threads]),
      latency_(threads) {
  for (unsigned w = 0; w < threads; ++w) {
    cache_[w].picks.random += w * 0x2545F4914F6CDD1DULL;  // workers draw different sequences
    cache_[w].picks.worker = w;
  }
}

ServiceCounters Service::counters() const {
  ServiceCounters c;
  for (unsigned w = 0; w < threads_; ++w) {
    for (std::size_t i = 0; i < c.responses.size(); ++i) {
      c.responses[i] += stats_[w].responses[i].load(std::memory_order_relaxed);
    }
    c.connect_errors += stats_[w].connect_errors.load(std::memory_order_relaxed);
    c.closed_at_drain += stats_[w].closed_at_drain.load(std::memory_order_relaxed);
    for (std::size_t b = 0; b < c.duration_buckets.size(); ++b) {
      c.duration_buckets[b] += stats_[w].duration_buckets[b].load(std::memory_order_relaxed);
    }
    c.duration_sum +=
        static_cast<double>(stats_[w].duration_ns.load(std::memory_order_relaxed)) / 1e9;
    c.unfinished += stats_[w].unfinished.load(std::memory_order_relaxed);
  }
  return c;
}

std::vector<std::shared_ptr<Upstream>> Service::swap(std::shared_ptr<const UpstreamSet> next) {
  std::shared_ptr<const UpstreamSet> previous = current_.exchange(next);
  swaps_.fetch_add(1, std::memory_order_seq_cst);
  std::vector<std::shared_ptr<Upstream>> left;
  if (previous) {
    for (const auto& member : previous->members()) {
      if (!next || !next->contains(member.get())) {
        member->retire();
        left.push_back(member);
      }
    }
  }
  return left;
}

InFlight Service::acquire(unsigned w, const Upstream* avoid) {
  Cache& cache = cache_[w];
  while (true) {
    const std::uint64_t seen = swaps_.load(std::memory_order_seq_cst);
    if (seen != cache.swaps) {
      // The pointer is loaded after the count, so it is at least as new as `seen`.
      cache.set = current_.load();
      cache.swaps = seen;
    }
    const std::shared_ptr<Upstream>* member =
        cache.set ? cache.set->pick(balancing_, cache.picks, avoid) : nullptr;
    if (member == nullptr) {
      return {};
    }
    (*member)->enter(w);
    // Count first, then confirm no swap happened meanwhile. A swap stores the pointer before it
    // bumps the count, so a drain that reads the count after the swap either sees this
    // request or this check sees the new count and backs off (all seq_cst).
    if (swaps_.load(std::memory_order_seq_cst) == seen) {
      return InFlight(*member, w);
    }
    (*member)->leave(w);
  }
}

}  // namespace handoff::proxy
