#include "proxy/upstream/upstream.hpp"

namespace handoff::proxy {
namespace {
std::atomic<std::uint64_t> next_upstream_id{1};
}  // namespace

Upstream::Upstream(std::string address, boost::asio::ip::tcp::endpoint endpoint, unsigned threads,
                   std::uint64_t generation)
    : address_(std::move(address)),
      endpoint_(endpoint),
      id_(next_upstream_id.fetch_add(1)),
      generation_(generation),
      threads_(threads),
      counters_(std::make_unique<Counters[]>(threads)) {}

std::int64_t Upstream::in_flight() const {
  std::int64_t sum = 0;
  for (unsigned w = 0; w < threads_; ++w) {
    sum += counters_[w].in_flight.load(std::memory_order_seq_cst);
  }
  return sum;
}

std::uint64_t Upstream::connect_errors() const {
  std::uint64_t sum = 0;
  for (unsigned w = 0; w < threads_; ++w) {
    sum += counters_[w].connect_errors.load(std::memory_order_relaxed);
  }
  return sum;
}

OutcomeCounts Upstream::outcomes() const {
  OutcomeCounts sum{};
  for (unsigned w = 0; w < threads_; ++w) {
    for (std::size_t i = 0; i < sum.size(); ++i) {
      sum[i] += counters_[w].outcomes[i].load(std::memory_order_relaxed);
    }
  }
  return sum;
}

}  // namespace handoff::proxy
