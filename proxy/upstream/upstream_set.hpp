#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/config.hpp"
#include "proxy/upstream/upstream.hpp"

namespace handoff::proxy {

/// Addresses comma-separated, as events, messages and `status` show a set.
std::string join_addresses(const std::vector<std::string>& addresses);

/// One worker's balancing state (touched by that worker only).
struct PickState {
  std::uint64_t random = 0x9E3779B97F4A7C15ULL;  ///< xorshift64 state; never zero
  std::uint64_t turn = 0;                        ///< the next member, for round robin
  unsigned worker = 0;                           ///< whose latency averages to compare
  /// The next pseudo-random number.
  std::uint64_t next_random() {
    random ^= random << 13;
    random ^= random >> 7;
    random ^= random << 17;
    return random;
  }
};

/// The members a service's requests are spread over. Immutable once built: a swap, deploy or
/// scale installs a new set with one atomic store, so a request sees one set from start to end.
/// Members that stay across a change are the same objects, with their counts and pools.
class UpstreamSet {
 public:
  /// A set of `members` (distinct, none null).
  explicit UpstreamSet(std::vector<std::shared_ptr<Upstream>> members)
      : members_(std::move(members)) {}
  /// A set of one member, or null for no upstream.
  static std::shared_ptr<const UpstreamSet> of(std::shared_ptr<Upstream> member);

  /// The members, in the order they were given.
  [[nodiscard]] const std::vector<std::shared_ptr<Upstream>>& members() const { return members_; }
  /// Whether `member` is one of the members.
  [[nodiscard]] bool contains(const Upstream* member) const;
  /// The members' addresses, comma-separated, for events and messages.
  [[nodiscard]] std::string addresses() const;
  /// Requests in flight on all members.
  [[nodiscard]] std::int64_t in_flight() const;
  /// Finished requests by how they ended, over all members.
  [[nodiscard]] OutcomeCounts outcomes() const;

  /// Picks the member a new request goes to, never `avoid`; members not ejected first. When
  /// every other member is ejected, the least bad one (fewest failures, then fewest in flight)
  /// still serves. Null when the set has no member but `avoid`. Lock-free.
  [[nodiscard]] const std::shared_ptr<Upstream>* pick(Balancing how, PickState& state,
                                                      const Upstream* avoid) const;

 private:
  [[nodiscard]] bool usable(std::size_t i, const Upstream* avoid) const {
    return members_[i].get() != avoid && !members_[i]->ejected();
  }
  [[nodiscard]] const std::shared_ptr<Upstream>* least_of_two(PickState& state,
                                                              const Upstream* avoid) const;
  [[nodiscard]] const std::shared_ptr<Upstream>* next_in_turn(PickState& state,
                                                              const Upstream* avoid) const;
  [[nodiscard]] const std::shared_ptr<Upstream>* least_bad(const Upstream* avoid) const;

  std::vector<std::shared_ptr<Upstream>> members_;
};

}  // namespace handoff::proxy
