#include "proxy/routing/service.hpp"

#include <utility>

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
      c.canary_responses[i] += stats_[w].canary_responses[i].load(std::memory_order_relaxed);
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

namespace {

// Retires the members of `from` that neither `keep` nor `also_keep` holds, and returns them.
std::vector<std::shared_ptr<Upstream>> retire_leaving(const UpstreamSet* from,
                                                      const UpstreamSet* keep,
                                                      const UpstreamSet* also_keep = nullptr) {
  std::vector<std::shared_ptr<Upstream>> left;
  if (from == nullptr) {
    return left;
  }
  for (const auto& member : from->members()) {
    const bool stays = (keep != nullptr && keep->contains(member.get())) ||
                       (also_keep != nullptr && also_keep->contains(member.get()));
    if (!stays) {
      member->retire();
      left.push_back(member);
    }
  }
  return left;
}

const UpstreamSet* set_of(const std::shared_ptr<const Canary>& canary) {
  return canary ? canary->set.get() : nullptr;
}

}  // namespace

std::vector<std::shared_ptr<Upstream>> Service::swap(std::shared_ptr<const UpstreamSet> next) {
  std::shared_ptr<const UpstreamSet> previous = current_.exchange(next);
  swaps_.fetch_add(1, std::memory_order_seq_cst);
  // A member the canary still runs is not retired: it serves on there.
  return retire_leaving(previous.get(), next.get(), set_of(canary_.load()));
}

std::vector<std::shared_ptr<Upstream>> Service::set_canary(std::shared_ptr<const UpstreamSet> set,
                                                           std::uint32_t share) {
  std::shared_ptr<const Canary> next =
      set ? std::make_shared<const Canary>(Canary{std::move(set), share}) : nullptr;
  std::shared_ptr<const Canary> previous = canary_.exchange(next);
  swaps_.fetch_add(1, std::memory_order_seq_cst);
  return retire_leaving(set_of(previous), set_of(next), current_.load().get());
}

std::vector<std::shared_ptr<Upstream>> Service::promote_canary() {
  std::shared_ptr<const Canary> canary = canary_.load();
  if (!canary) {
    return {};
  }
  // Between the two stores a worker that reloads sees the canary's members in both slots:
  // nothing it can pick is retired. The bump after both makes every worker reload.
  std::shared_ptr<const UpstreamSet> previous = current_.exchange(canary->set);
  canary_.exchange(nullptr);
  swaps_.fetch_add(1, std::memory_order_seq_cst);
  return retire_leaving(previous.get(), canary->set.get());
}

const UpstreamSet* Service::place(Cache& cache, Placement* placement,
                                  const MessageHead* request) const {
  if (placement == nullptr || !cache.canary) {
    if (placement != nullptr) {
      placement->split = placement->canary = false;
    }
    return cache.set.get();
  }
  placement->split = true;
  if (placement->bucket >= kCanaryBuckets && request != nullptr) {
    placement->bucket = canary_bucket(*request);  // the cookie, read only now
  }
  if (placement->bucket >= kCanaryBuckets) {
    placement->bucket = static_cast<std::uint32_t>(cache.picks.next_random() % kCanaryBuckets);
    placement->drawn = true;
  }
  placement->canary = placement->bucket < cache.canary->share;
  return placement->canary ? cache.canary->set.get() : cache.set.get();
}

InFlight Service::acquire(unsigned w, const Upstream* avoid, Placement* placement) {
  Cache& cache = cache_[w];
  // Taken at once: the request's head bytes may be overwritten once this returns.
  const MessageHead* request =
      placement != nullptr ? std::exchange(placement->request, nullptr) : nullptr;
  while (true) {
    const std::uint64_t seen = swaps_.load(std::memory_order_seq_cst);
    if (seen != cache.swaps) {
      // The pointers are loaded after the count, so they are at least as new as `seen`.
      cache.set = current_.load();
      cache.canary = canary_.load();
      cache.swaps = seen;
    }
    const UpstreamSet* set = place(cache, placement, request);
    const std::shared_ptr<Upstream>* member =
        set != nullptr ? set->pick(balancing_, cache.picks, avoid) : nullptr;
    if (member == nullptr && placement != nullptr && placement->canary && cache.set) {
      // A retry that finds no other canary member goes to the serving set.
      placement->canary = false;
      member = cache.set->pick(balancing_, cache.picks, avoid);
    }
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
