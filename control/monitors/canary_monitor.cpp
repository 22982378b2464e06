#include "control/monitors/canary_monitor.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <mutex>

#include "control/base/operation_runner.hpp"
#include "control/protocol/percent.hpp"
#include "control/protocol/progress_printer.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::control {

namespace {

constexpr std::chrono::milliseconds kTick{250};

}  // namespace

std::vector<CanaryVerdict> CanaryJudge::round(const std::vector<CanaryView>& canaries,
                                              Clock::time_point now, std::int64_t unix_now_ms) {
  std::map<std::string, Track> seen;
  std::vector<CanaryVerdict> verdicts;
  for (const CanaryView& c : canaries) {
    Track& track = seen[c.service];
    if (auto it = tracks_.find(c.service); it != tracks_.end() && it->second.set == c.set) {
      track = std::move(it->second);
    }
    track.set = c.set;
    if (auto verdict = judge(c, track, now, unix_now_ms)) {
      verdicts.push_back(std::move(*verdict));
    }
  }
  tracks_ = std::move(seen);  // canaries that ended are forgotten
  return verdicts;
}

std::optional<CanaryVerdict> CanaryJudge::judge(const CanaryView& canary, Track& track,
                                                Clock::time_point now, std::int64_t unix_now_ms) {
  const auto [requests, errors] = canary_answers(*canary.set);
  track.samples.push_back(Sample{now, requests, errors});
  // Keep one sample at or before the window's start: the difference to it spans the window.
  const auto window_start = now - std::chrono::seconds(canary.policy.window_s);
  while (track.samples.size() > 2 && track.samples[1].at <= window_start) {
    track.samples.pop_front();
  }
  const Sample& first = track.samples.front();
  const std::uint64_t in_window = requests - first.requests;
  const std::uint64_t failed = errors - first.errors;
  const auto minimum =
      static_cast<std::uint64_t>(std::max<std::int64_t>(canary.policy.min_requests, 1));
  if (in_window >= minimum &&
      static_cast<double>(failed) > canary.policy.max_error_rate * static_cast<double>(in_window)) {
    return CanaryVerdict{
        canary.service, false,
        fmt::format("5xx rate {:.1f}% ({} of {} requests) over {} s is above the budget of {}",
                    100.0 * static_cast<double>(failed) / static_cast<double>(in_window), failed,
                    in_window, canary.policy.window_s,
                    format_percent(static_cast<std::uint32_t>(
                        std::lround(canary.policy.max_error_rate * 10'000.0))))};
  }
  // A canary that served fewer than its minimum proved nothing: it is not promoted however long
  // it ran.
  if (canary.policy.bake_s > 0 && requests >= minimum &&
      unix_now_ms - canary.started_unix_ms >= canary.policy.bake_s * 1000) {
    return CanaryVerdict{canary.service, true,
                         fmt::format("baked {} s within its error budget", canary.policy.bake_s)};
  }
  return std::nullopt;
}

CanaryMonitor::CanaryMonitor(std::function<std::vector<CanaryView>()> canaries, Act act)
    : canaries_(std::move(canaries)), act_(std::move(act)) {}

void CanaryMonitor::start() {
  thread_.start([this](const std::stop_token& stop) { run(stop); });
}

void CanaryMonitor::stop() {
  thread_.stop();
}

void CanaryMonitor::run(const std::stop_token& stop) {
  while (!wait_unless_stopped(stop, CanaryJudge::Clock::now() + kTick)) {
    const std::int64_t unix_now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count();
    for (const CanaryVerdict& v :
         judge_.round(canaries_(), CanaryJudge::Clock::now(), unix_now_ms)) {
      act_(v, stop);
    }
  }
}

namespace {

// Progress of an unattended workflow, printed as `handoff deploy` would print it.
class PrintingSink : public EventSink {
 public:
  explicit PrintingSink(ProgressPrinter& printer) : printer_(printer) {}
  void emit(boost::json::object event) override {
    std::lock_guard lock(mutex_);
    printer_.line(boost::json::serialize(event));
  }

 private:
  std::mutex mutex_;
  ProgressPrinter& printer_;
};

}  // namespace

bool run_unattended(const Operation& operation, const std::string& title,
                    const std::stop_token& stop) {
  fmt::print(stderr, "handoff: {}\n", title);
  ProgressPrinter printer("canary", false, stderr, stderr);
  PrintingSink sink(printer);
  sink.bind_stop(stop);
  OperationResult result = operation(sink);
  printer.line(boost::json::serialize(result.result));
  return printer.finish() == 0;
}

}  // namespace handoff::control
