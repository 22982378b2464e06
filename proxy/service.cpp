#include "proxy/service.hpp"

namespace handoff::proxy {

Service::Service(std::string name, unsigned threads, std::shared_ptr<Upstream> initial)
    : name_(std::move(name)), current_(std::move(initial)), cache_(new Cache[threads]) {}

std::shared_ptr<Upstream> Service::swap(std::shared_ptr<Upstream> next) {
  std::shared_ptr<Upstream> previous = current_.exchange(std::move(next));
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (previous) {
    previous->retire();
  }
  return previous;
}

InFlight Service::acquire(unsigned w) {
  Cache& cache = cache_[w];
  while (true) {
    const std::uint64_t seen = generation_.load(std::memory_order_seq_cst);
    if (seen != cache.generation) {
      // The pointer is loaded after the generation, so it is at least as new as `seen`.
      cache.upstream = current_.load();
      cache.generation = seen;
    }
    if (!cache.upstream) {
      return {};
    }
    cache.upstream->enter(w);
    // Count first, then confirm no swap happened meanwhile. A swap stores the pointer before it
    // bumps the generation, so a drain that reads the count after the swap either sees this
    // request or this check sees the new generation and backs off (all seq_cst).
    if (generation_.load(std::memory_order_seq_cst) == seen) {
      return InFlight(cache.upstream, w);
    }
    cache.upstream->leave(w, false);
  }
}

}  // namespace handoff::proxy
