#include "proxy/upstream/upstream.hpp"

#include <doctest/doctest.h>

#include "proxy/address.hpp"
#include "tests/support/loopback_upstream.hpp"

using namespace handoff::proxy;

namespace {
std::shared_ptr<Upstream> upstream(std::uint16_t port) {
  return handoff::test::loopback_upstream(port);
}
}  // namespace

TEST_CASE("an upstream counts how its requests ended, per worker, summed when read") {
  auto up = upstream(1);
  up->count_outcome(0, RequestOutcome::answered);
  up->count_outcome(1, RequestOutcome::answered);
  up->count_outcome(1, RequestOutcome::cut_at_drain);
  up->count_outcome(0, RequestOutcome::connect_error);
  const OutcomeCounts n = up->outcomes();
  CHECK(n[static_cast<std::size_t>(RequestOutcome::answered)] == 2);
  CHECK(n[static_cast<std::size_t>(RequestOutcome::cut_at_drain)] == 1);
  CHECK(n[static_cast<std::size_t>(RequestOutcome::connect_error)] == 1);
  CHECK(n[static_cast<std::size_t>(RequestOutcome::upstream_5xx)] == 0);
}
