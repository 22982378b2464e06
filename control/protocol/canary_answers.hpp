#pragma once

#include <cstdint>

#include "proxy/upstream/upstream_set.hpp"

namespace handoff::control {

/// What a canary's members have finished since the canary started: requests with an answer or
/// a failure of the upstream's making, and those failures (5xx, failed connects). Its own set's
/// counters, so no earlier canary of the service counts: the judge and `status` read these.
struct CanaryAnswers {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
};

/// The answers of the canary whose members are `set`.
CanaryAnswers canary_answers(const proxy::UpstreamSet& set);

}  // namespace handoff::control
