#include "proxy/request_books.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "proxy/routing/service.hpp"

namespace handoff::proxy {

RequestOutcome request_outcome(const RequestEnding& ending) {
  if (ending.client_left) {
    return RequestOutcome::incomplete;
  }
  if (ending.killed) {
    return RequestOutcome::cut_at_drain;
  }
  if (ending.connect_failed) {
    return RequestOutcome::connect_error;
  }
  if (ending.status == 0 || ending.cut) {
    return RequestOutcome::incomplete;
  }
  if (ending.status >= 500) {
    return ending.answered_by_proxy ? RequestOutcome::proxy_5xx : RequestOutcome::upstream_5xx;
  }
  return RequestOutcome::answered;
}

std::chrono::steady_clock::duration count_request(Service* service, Upstream* upstream, unsigned w,
                                                  std::chrono::steady_clock::time_point started,
                                                  const RequestEnding& ending) {
  const auto now = std::chrono::steady_clock::now();  // one clock read for every use
  const auto took = now - started;
  if (service != nullptr) {
    if (ending.status != 0) {
      service->count_response(w, ending.status, ending.canary);
      service->count_duration(w, now, took);
    }
    if (ending.status == 0 || ending.cut || ending.killed || ending.client_left) {
      service->count_unfinished(w, ending.killed && !ending.client_left);
    }
  }
  // A refusal the proxy made of its own (a body over --max-body, a malformed chunk) is not the
  // member's answer: it would reset the member's 5xx streak and feed the balancer a latency it
  // never had.
  const bool members_answer = !(ending.answered_by_proxy && ending.status < 500);
  if (upstream != nullptr && members_answer) {
    const RequestOutcome outcome = request_outcome(ending);
    upstream->count_outcome(w, outcome);
    if (outcome == RequestOutcome::answered || outcome == RequestOutcome::upstream_5xx) {
      upstream->note_answer(ending.status);  // passive health: a burst of 5xx ejects it
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
      upstream->note_latency(
          w, static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX)),
          std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
    }
  }
  return took;
}

}  // namespace handoff::proxy
