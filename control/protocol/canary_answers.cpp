#include "control/protocol/canary_answers.hpp"

namespace handoff::control {

CanaryAnswers canary_answers(const proxy::UpstreamSet& set) {
  const proxy::OutcomeCounts o = set.outcomes();
  const auto at = [&o](proxy::RequestOutcome r) { return o[static_cast<std::size_t>(r)]; };
  const std::uint64_t errors = at(proxy::RequestOutcome::upstream_5xx) +
                               at(proxy::RequestOutcome::proxy_5xx) +
                               at(proxy::RequestOutcome::connect_error);
  return {at(proxy::RequestOutcome::answered) + errors, errors};
}

}  // namespace handoff::control
