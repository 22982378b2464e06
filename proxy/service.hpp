#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "proxy/upstream.hpp"

namespace handoff::proxy {

/// A named application behind the proxy. It has one current upstream, replaced by `swap` with a
/// single atomic store; requests read it once, when they start.
class Service {
 public:
  /// `threads` is the number of data-plane workers (each keeps its own cached pointer).
  Service(std::string name, unsigned threads, std::shared_ptr<Upstream> initial);

  /// The service's name, e.g. `default`.
  [[nodiscard]] const std::string& name() const { return name_; }
  /// The upstream new requests go to (may be null: the service answers 503).
  [[nodiscard]] std::shared_ptr<Upstream> upstream() const { return current_.load(); }
  /// Bumped by every swap.
  [[nodiscard]] std::uint64_t generation() const { return generation_.load(); }

  /// Makes `next` current and returns the previous upstream, now marked retired. When it
  /// returns, no request that starts afterwards can be counted on the previous upstream.
  std::shared_ptr<Upstream> swap(std::shared_ptr<Upstream> next);

  /// Data plane: binds a new request on worker `w` to the current upstream and counts it in
  /// flight there. Empty when the service has no upstream. Lock-free.
  InFlight acquire(unsigned w);

 private:
  struct alignas(64) Cache {
    std::uint64_t generation = 0;
    std::shared_ptr<Upstream> upstream;
  };

  std::string name_;
  std::atomic<std::shared_ptr<Upstream>> current_;
  std::atomic<std::uint64_t> generation_{1};
  std::unique_ptr<Cache[]> cache_;  // one per worker, touched only by that worker
};

}  // namespace handoff::proxy
