#include "control/workflows/deploy_cost.hpp"

#include <algorithm>

namespace handoff::control {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using Outcome = proxy::RequestOutcome;

namespace {

std::int64_t count(const proxy::OutcomeCounts& n, Outcome o) {
  return static_cast<std::int64_t>(n[static_cast<std::size_t>(o)]);
}

double to_ms(std::chrono::nanoseconds d) {
  return static_cast<double>(d.count()) / 1e6;
}

}  // namespace

DeployCost::DeployCost(std::shared_ptr<proxy::Service> service)
    : service_(std::move(service)), begun_(Clock::now()) {
  old_.set = service_->upstreams();
  if (old_.set) {
    old_.baseline = old_.set->outcomes();
  }
}

void DeployCost::switched() {
  switched_ = Clock::now();
  // Requests that finished in the switch's own second so far belong to "before"; the rest of
  // that second is added to "after" by taking this reading away from a later one.
  switch_second_ = service_->latency().read(switched_, switched_);
  // The seconds before, then the same reading of the switch's second: a second reading of it
  // could count a request that finishes in between on both sides.
  before_ =
      service_->latency().read(switched_ - kBeforeWindow, switched_ - std::chrono::seconds(1));
  before_ += switch_second_;
  new_.set = service_->upstreams();
  if (new_.set) {
    // Members that stay (a scale) had counted before; only what they count from now is new.
    new_.baseline = new_.set->outcomes();
  }
}

VersionOutcome DeployCost::version_report(const Version& v) {
  proxy::OutcomeCounts n = v.set->outcomes();
  for (std::size_t i = 0; i < n.size(); ++i) {
    n[i] -= std::min(n[i], v.baseline[i]);
  }
  const std::int64_t failed = count(n, Outcome::upstream_5xx) + count(n, Outcome::proxy_5xx) +
                              count(n, Outcome::connect_error) + count(n, Outcome::cut_at_drain) +
                              count(n, Outcome::incomplete);
  return VersionOutcome{.upstream = v.set->addresses(),
                        .answered = count(n, Outcome::answered),
                        .failed = failed,
                        .upstream_5xx = count(n, Outcome::upstream_5xx),
                        .proxy_5xx = count(n, Outcome::proxy_5xx),
                        .connect_errors = count(n, Outcome::connect_error),
                        .cut_at_drain = count(n, Outcome::cut_at_drain),
                        .incomplete = count(n, Outcome::incomplete)};
}

LatencyWindow DeployCost::latency_report(const proxy::DurationHistogram& h, milliseconds window) {
  return LatencyWindow{.window_ms = window.count(),
                       .requests = static_cast<std::int64_t>(h.total()),
                       .p50_ms = to_ms(h.percentile(0.50)),
                       .p99_ms = to_ms(h.percentile(0.99))};
}

CostReport DeployCost::report() const {
  const Clock::time_point now = Clock::now();
  CostReport out{.window_ms = duration_cast<milliseconds>(now - begun_).count()};
  if (old_.set) {
    out.old_version = version_report(old_);
  }
  if (switched_ == Clock::time_point{}) {
    // No switch: the durations of the deploy's own time say what it cost.
    out.latency =
        LatencyReport{.during = latency_report(service_->latency().read(begun_, now),
                                               duration_cast<milliseconds>(now - begun_))};
    return out;
  }
  if (new_.set) {
    out.new_version = version_report(new_);
  }
  proxy::DurationHistogram after = service_->latency().read(switched_, now);
  after -= switch_second_;
  out.latency =
      LatencyReport{.before = latency_report(before_, duration_cast<milliseconds>(kBeforeWindow)),
                    .after = latency_report(after, duration_cast<milliseconds>(now - switched_))};
  return out;
}

OperationResult with_cost(OperationResult result, const DeployCost& cost) {
  result.result["cost"] = to_wire(cost.report());
  return result;
}

}  // namespace handoff::control
