#include "control/health/health_check.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <memory>

#include "control/base/operation_runner.hpp"
#include "control/protocol/progress_events.hpp"

namespace handoff::control {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
std::size_t discard_body(char*, std::size_t size, std::size_t n, void*) {
  return size * n;
}
}  // namespace

ProbeResult probe_http(const std::string& address, const HealthCheckOptions& options,
                       milliseconds timeout) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    return {0, "cannot initialise libcurl"};
  }
  const std::string url = fmt::format("http://{}{}", address, options.path);
  curl_slist* headers = nullptr;
  if (!options.host.empty()) {
    headers = curl_slist_append(headers, fmt::format("Host: {}", options.host).c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          curl_slist_free_all);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");  // the target is never reached via a proxy
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);  // a redirect is not healthy
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "handoff-health-check");
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, discard_body);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return {0, curl_easy_strerror(rc)};
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  return {static_cast<int>(status), {}};
}

std::string run_health_gate(const std::string& address, const HealthCheckOptions& options,
                            EventSink& sink, const GiveUpCheck& give_up) {
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  unsigned consecutive = 0;
  std::string last = "no answer yet";
  for (unsigned attempt = 1;; ++attempt) {
    const auto now = Clock::now();
    if (now >= deadline) {
      break;
    }
    auto remaining = std::chrono::duration_cast<milliseconds>(deadline - now);
    ProbeResult r = probe_http(address, options, std::min(remaining, milliseconds(5000)));
    const bool ok = r.status >= 200 && r.status < 300;
    consecutive = ok ? consecutive + 1 : 0;
    last = r.status != 0 ? fmt::format("HTTP {}", r.status) : r.error;
    const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
    HealthCheckEvent event{.attempt = attempt,
                           .healthy = consecutive,
                           .needed = options.healthy_threshold,
                           .elapsed_ms = elapsed};
    if (r.status != 0) {
      event.status = r.status;
    } else {
      event.error = r.error;
    }
    emit_event(sink, StepState::running, event);
    if (consecutive >= options.healthy_threshold) {
      return {};
    }
    if (!ok && give_up) {
      if (std::string why = give_up(); !why.empty()) {
        return fmt::format("{} (last answer: {})", why, last);
      }
    }
    const auto wake = std::min(Clock::now() + options.interval, deadline);
    if (wait_unless_stopped(sink.stop_token(), wake)) {
      return "handoff is shutting down: the health check stopped";
    }
  }
  return fmt::format("{} did not answer {} consecutive 2xx to GET {} within {} ms (last: {})",
                     address, options.healthy_threshold, options.path, options.timeout.count(),
                     last);
}

namespace {

// Passes a gate's events on, naming the member it checks.
class MemberSink : public EventSink {
 public:
  MemberSink(EventSink& sink, std::string address) : sink_(sink), address_(std::move(address)) {
    bind_stop(sink.stop_token());
  }
  void emit(boost::json::object event) override {
    event["upstream"] = address_;
    sink_.emit(std::move(event));
  }

 private:
  EventSink& sink_;
  std::string address_;
};

}  // namespace

std::string run_health_gates(const std::vector<std::string>& addresses,
                             const HealthCheckOptions& options, EventSink& sink,
                             const std::vector<GiveUpCheck>& give_up) {
  const auto give_up_on = [&give_up](std::size_t i) {
    return i < give_up.size() ? give_up[i] : GiveUpCheck{};
  };
  if (addresses.size() == 1) {
    return run_health_gate(addresses.front(), options, sink, give_up_on(0));
  }
  std::vector<std::future<std::string>> gates;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    gates.push_back(std::async(std::launch::async,
                               [&sink, &options, address = addresses[i], check = give_up_on(i)] {
                                 MemberSink member(sink, address);
                                 return run_health_gate(address, options, member, check);
                               }));
  }
  std::string failure;
  for (auto& gate : gates) {
    std::string why = gate.get();  // every gate is awaited, even after one failed
    if (failure.empty()) {
      failure = std::move(why);
    }
  }
  return failure;
}

}  // namespace handoff::control
