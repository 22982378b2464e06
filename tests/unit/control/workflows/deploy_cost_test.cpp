#include "control/workflows/deploy_cost.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "tests/support/loopback_upstream.hpp"

using namespace handoff;
using namespace std::chrono_literals;
namespace json = boost::json;
using proxy::RequestOutcome;

namespace {

std::shared_ptr<proxy::Upstream> upstream(std::uint16_t port) {
  return test::loopback_upstream(port, 1);
}

std::int64_t at(const json::object& o, std::string_view a, std::string_view b) {
  return o.at(a).as_object().at(b).to_number<std::int64_t>();
}

}  // namespace

TEST_CASE("a cost report counts only what each version finished while the workflow ran") {
  auto service = std::make_shared<proxy::Service>("web", 1, proxy::UpstreamSet::of(upstream(1)));
  auto old = service->upstreams()->members().front();
  old->count_outcome(0, RequestOutcome::answered);  // before: not this deploy's cost
  old->count_outcome(0, RequestOutcome::upstream_5xx);
  service->count_duration(0, proxy::LatencyWindow::Clock::now(), 2ms);

  control::DeployCost cost(service);
  old->count_outcome(0, RequestOutcome::answered);
  old->count_outcome(0, RequestOutcome::connect_error);
  service->swap(proxy::UpstreamSet::of(upstream(2)));
  cost.switched();
  auto next = service->upstreams()->members().front();
  next->count_outcome(0, RequestOutcome::answered);
  next->count_outcome(0, RequestOutcome::answered);
  old->count_outcome(0, RequestOutcome::cut_at_drain);
  service->count_duration(0, proxy::LatencyWindow::Clock::now(), 8ms);

  const json::object r = control::to_wire(cost.report());
  INFO(json::serialize(r));
  CHECK(at(r, "old", "answered") == 1);
  CHECK(at(r, "old", "connect_errors") == 1);
  CHECK(at(r, "old", "cut_at_drain") == 1);
  CHECK(at(r, "old", "upstream_5xx") == 0);
  CHECK(at(r, "old", "failed") == 2);
  CHECK(at(r, "new", "answered") == 2);
  CHECK(at(r, "new", "failed") == 0);
  const json::object& latency = r.at("latency").as_object();
  CHECK(at(latency, "before", "requests") == 1);
  CHECK(at(latency, "after", "requests") == 1);
  CHECK(latency.at("after").as_object().at("p50_ms").to_number<double>() >= 8.0);
}

TEST_CASE("a workflow that never switched reports the old version and the time it ran") {
  auto service = std::make_shared<proxy::Service>("web", 1, proxy::UpstreamSet::of(upstream(1)));
  control::DeployCost cost(service);
  service->upstreams()->members().front()->count_outcome(0, RequestOutcome::answered);
  service->count_duration(0, proxy::LatencyWindow::Clock::now(), 1ms);
  const json::object r = control::to_wire(cost.report());
  CHECK(at(r, "old", "answered") == 1);
  CHECK_FALSE(r.contains("new"));
  CHECK(at(r.at("latency").as_object(), "during", "requests") == 1);
}
