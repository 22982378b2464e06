#include "proxy/upstream/upstream_set.hpp"

#include <algorithm>
#include <chrono>
#include <tuple>

namespace handoff::proxy {

std::shared_ptr<const UpstreamSet> UpstreamSet::of(std::shared_ptr<Upstream> member) {
  if (!member) {
    return nullptr;
  }
  return std::make_shared<const UpstreamSet>(std::vector{std::move(member)});
}

bool UpstreamSet::contains(const Upstream* member) const {
  return std::ranges::any_of(members_, [member](const auto& m) { return m.get() == member; });
}

std::string join_addresses(const std::vector<std::string>& addresses) {
  std::string out;
  for (const auto& a : addresses) {
    out += out.empty() ? "" : ",";
    out += a;
  }
  return out;
}

std::string UpstreamSet::addresses() const {
  std::vector<std::string> each;
  for (const auto& m : members_) {
    each.push_back(m->address());
  }
  return join_addresses(each);
}

std::int64_t UpstreamSet::in_flight() const {
  std::int64_t n = 0;
  for (const auto& m : members_) {
    n += m->in_flight();
  }
  return n;
}

OutcomeCounts UpstreamSet::outcomes() const {
  OutcomeCounts sum{};
  for (const auto& m : members_) {
    const OutcomeCounts n = m->outcomes();
    for (std::size_t i = 0; i < sum.size(); ++i) {
      sum[i] += n[i];
    }
  }
  return sum;
}

const std::shared_ptr<Upstream>* UpstreamSet::pick(Balancing how, PickState& state,
                                                   const Upstream* avoid) const {
  if (members_.size() == 1) {  // the common case: no choice to make
    return members_[0].get() == avoid ? nullptr : members_.data();
  }
  if (members_.empty()) {
    return nullptr;
  }
  const std::shared_ptr<Upstream>* chosen =
      how == Balancing::round_robin ? next_in_turn(state, avoid) : least_of_two(state, avoid);
  return chosen != nullptr ? chosen : least_bad(avoid);
}

namespace {

// Average request times closer than this are alike: a connect, a cold cache or a scheduling
// hiccup moves an idle member's average by less, and a replica that far behind is no p99
// problem.
constexpr std::uint64_t kAlikeWithinUs = 1000;

// Whether `x` is expected to answer a new request sooner than `y`. Members whose average
// request times are within a factor of two, or within kAlikeWithinUs, are alike: the one with
// fewer requests in flight wins (replicas alike share the load evenly, instead of the one a few
// microseconds faster taking it all). Otherwise requests in flight times average request time:
// a slow member collects requests in flight and answers each later, so it gets few.
bool less_busy(const Upstream& x, const Upstream& y, unsigned w) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
  const std::uint64_t lx = x.latency_estimate(w, now_ms);
  const std::uint64_t ly = y.latency_estimate(w, now_ms);
  const auto fx = static_cast<std::uint64_t>(x.in_flight() + 1);
  const auto fy = static_cast<std::uint64_t>(y.in_flight() + 1);
  const std::uint64_t gap = lx > ly ? lx - ly : ly - lx;
  if (gap < kAlikeWithinUs || (lx <= 2 * ly && ly <= 2 * lx)) {
    return fx < fy;
  }
  return fx * lx < fy * ly;
}

}  // namespace

// Power of two choices: two distinct members at random, the one expected to answer sooner
// (see less_busy). A member that is ejected or avoided loses to the other; when both are, the
// first usable one after them.
const std::shared_ptr<Upstream>* UpstreamSet::least_of_two(PickState& state,
                                                           const Upstream* avoid) const {
  const std::size_t n = members_.size();
  const std::size_t a = state.next_random() % n;
  std::size_t b = state.next_random() % (n - 1);
  b += b >= a ? 1 : 0;
  const bool a_ok = usable(a, avoid);
  const bool b_ok = usable(b, avoid);
  if (a_ok && b_ok) {
    return less_busy(*members_[b], *members_[a], state.worker) ? &members_[b] : &members_[a];
  }
  if (a_ok || b_ok) {
    return a_ok ? &members_[a] : &members_[b];
  }
  for (std::size_t k = 1; k < n; ++k) {
    if (usable((a + k) % n, avoid)) {
      return &members_[(a + k) % n];
    }
  }
  return nullptr;
}

const std::shared_ptr<Upstream>* UpstreamSet::next_in_turn(PickState& state,
                                                           const Upstream* avoid) const {
  const std::size_t n = members_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = state.turn++ % n;
    if (usable(i, avoid)) {
      return &members_[i];
    }
  }
  return nullptr;
}

// Every member but `avoid` is ejected: requests still go somewhere rather than all failing.
const std::shared_ptr<Upstream>* UpstreamSet::least_bad(const Upstream* avoid) const {
  const std::shared_ptr<Upstream>* best = nullptr;
  for (const auto& m : members_) {
    if (m.get() == avoid) {
      continue;
    }
    if (best == nullptr || std::make_tuple(m->failures(), m->in_flight()) <
                               std::make_tuple((*best)->failures(), (*best)->in_flight())) {
      best = &m;
    }
  }
  return best;
}

}  // namespace handoff::proxy
