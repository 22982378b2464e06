#include "control/health/health_monitor.hpp"

#include <fmt/format.h>

#include <future>
#include <set>

#include "control/base/operation_runner.hpp"

namespace handoff::control {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// How often the monitor looks for members due a probe or a readmission.
constexpr milliseconds kTick{100};
// A probe's limit: a member that hangs is as bad as one that refuses, and must not hold up
// the round for long.
constexpr milliseconds kProbeTimeout{2000};

// A probe due now: the member, and the options to probe it with.
struct DueProbe {
  std::shared_ptr<proxy::Upstream> member;
  HealthWatch watch;
  std::future<ProbeResult> result;
};

}  // namespace

HealthMonitor::HealthMonitor(WatchedSets sets) : sets_(std::move(sets)) {}

void HealthMonitor::start() {
  thread_.start([this](const std::stop_token& stop) { run(stop); });
}

void HealthMonitor::stop() {
  thread_.stop();
}

void HealthMonitor::run(const std::stop_token& stop) {
  while (!wait_unless_stopped(stop, Clock::now() + kTick)) {
    round(Clock::now());
  }
}

// Probes every watched member that is due, side by side, and judges the answers; readmits the
// unchecked members whose cool-down is over; forgets members no set holds any more.
void HealthMonitor::round(Clock::time_point now) {
  std::vector<DueProbe> due;
  std::set<std::uint64_t> seen;
  for (const WatchedSet& w : sets_()) {
    for (const auto& member : w.set->members()) {
      seen.insert(member->id());
      Record& r = records_[member->id()];
      if (!w.watch.enabled) {
        if (!member->ejected()) {
          r.ejected_at = {};
        } else if (r.ejected_at == Clock::time_point{}) {
          r.ejected_at = now;
        } else if (now - r.ejected_at >= kCoolDown) {
          member->readmit();
          r.ejected_at = {};
        }
        continue;
      }
      if (now < r.next_probe) {
        continue;
      }
      r.next_probe = now + w.watch.interval;
      HealthCheckOptions options;
      options.path = w.watch.path;
      options.host = w.watch.host;
      const milliseconds limit = std::min(kProbeTimeout, w.watch.interval);
      due.push_back({member, w.watch, std::async(std::launch::async, [member, options, limit] {
                       return probe_http(member->address(), options, limit);
                     })});
    }
  }
  for (DueProbe& p : due) {
    judge(*p.member, p.watch, p.result.get());
  }
  std::erase_if(records_, [&seen](const auto& entry) { return seen.count(entry.first) == 0; });
}

void HealthMonitor::judge(proxy::Upstream& member, const HealthWatch& watch,
                          const ProbeResult& result) {
  Record& r = records_[member.id()];
  const bool ok = result.status >= 200 && result.status < 300;
  r.passes = ok ? r.passes + 1 : 0;
  r.failures = ok ? 0 : r.failures + 1;
  if (!ok && r.failures == watch.unhealthy_threshold && !member.ejected()) {
    member.eject(proxy::Ejection::failed_checks);
    fmt::print(stderr, "handoff: upstream {} ejected: {} failed health checks in a row ({})\n",
               member.address(), r.failures,
               result.status != 0 ? fmt::format("HTTP {}", result.status) : result.error);
  }
  if (ok && member.ejected() && r.passes >= watch.healthy_threshold) {
    member.readmit();
    fmt::print(stderr, "handoff: upstream {} readmitted: {} health checks passed in a row\n",
               member.address(), r.passes);
  }
}

}  // namespace handoff::control
