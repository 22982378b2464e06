#include "proxy/routing/canary.hpp"

#include <doctest/doctest.h>

#include <string>

#include "control/monitors/canary_monitor.hpp"
#include "proxy/routing/service.hpp"
#include "tests/support/loopback_upstream.hpp"

using namespace handoff::proxy;

namespace {

std::uint32_t bucket_of(const std::string& fields) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n";
  MessageHead head;
  REQUIRE(parse_request_head(raw, 16384, head).state == ParseStatus::complete);
  return canary_bucket(head);
}

std::shared_ptr<const UpstreamSet> set_of(std::uint16_t port) {
  return UpstreamSet::of(handoff::test::loopback_upstream(port));
}

}  // namespace

TEST_CASE("the canary cookie is found among other cookies and fields, and bad values are none") {
  CHECK(bucket_of("Cookie: handoff_canary=42\r\n") == 42);
  CHECK(bucket_of("Cookie: a=1; handoff_canary=9999; b=2\r\n") == 9999);
  CHECK(bucket_of("cookie: a=1\r\nCOOKIE:  handoff_canary = 7 \r\n") == 7);
  CHECK(bucket_of("Cookie: handoff_canary=x; handoff_canary=3\r\n") == 3);
  for (const char* bad :
       {"Cookie: handoff_canary=10000\r\n", "Cookie: handoff_canary=\r\n",
        "Cookie: handoff_canary=-1\r\n", "Cookie: xhandoff_canary=1\r\n",
        "Cookie: handoff_canary=99999999999\r\n", "X-Cookie: handoff_canary=1\r\n", ""}) {
    CAPTURE(bad);
    CHECK(bucket_of(bad) == kNoBucket);
  }
  SetCookieBuffer buffer{};
  CHECK(canary_set_cookie(4821, buffer) == "handoff_canary=4821; Path=/; HttpOnly; SameSite=Lax");
}

TEST_CASE("a canary takes the buckets below its share, and promote and drop retire the right set") {
  Service s("default", 1, set_of(1));
  Placement none;
  CHECK(s.acquire(0, nullptr, &none).get()->address() == "127.0.0.1:1");
  CHECK_FALSE(none.split);
  CHECK_FALSE(none.drawn);
  CHECK(s.set_canary(set_of(2), 1000).empty());
  CHECK(s.canary_running());
  Placement low{999};
  CHECK(s.acquire(0, nullptr, &low).get()->address() == "127.0.0.1:2");
  CHECK(low.canary);
  CHECK_FALSE(low.drawn);
  Placement high{1000};
  CHECK(s.acquire(0, nullptr, &high).get()->address() == "127.0.0.1:1");
  CHECK_FALSE(high.canary);
  int on_canary = 0;
  for (int i = 0; i < 10'000; ++i) {
    Placement fresh;
    on_canary += s.acquire(0, nullptr, &fresh).get()->address() == "127.0.0.1:2" ? 1 : 0;
    CHECK(fresh.drawn);
  }
  CHECK(on_canary > 800);
  CHECK(on_canary < 1200);
  // A request in flight on the serving set while the canary is promoted is drained there.
  Placement serving{5000};
  InFlight old = s.acquire(0, nullptr, &serving);
  const auto retired = s.promote_canary();
  REQUIRE(retired.size() == 1);
  CHECK(retired.front()->address() == "127.0.0.1:1");
  CHECK(retired.front()->retired());
  CHECK(retired.front()->in_flight() == 1);
  CHECK_FALSE(s.canary());
  Placement after{5000};
  CHECK(s.acquire(0, nullptr, &after).get()->address() == "127.0.0.1:2");
  CHECK_FALSE(after.split);
  // A dropped canary's members are retired; the serving set is untouched.
  CHECK(s.set_canary(set_of(3), 10'000).empty());
  const auto dropped = s.set_canary(nullptr, 0);
  REQUIRE(dropped.size() == 1);
  CHECK(dropped.front()->address() == "127.0.0.1:3");
  CHECK_FALSE(s.upstreams()->members().front()->retired());
}

TEST_CASE("the canary judge rolls back over the budget only after the minimum, and bakes") {
  using handoff::control::CanaryJudge;
  using handoff::control::CanaryView;
  auto member = handoff::test::loopback_upstream(4);
  auto set = UpstreamSet::of(member);
  CanaryView view{"web", set, {}, 1000, {0.01, 10, 100, 0}, 1'000'000};
  CanaryJudge judge;
  auto t = CanaryJudge::Clock::now();
  CHECK(judge.round({view}, t, 1'000'000).empty());
  for (int i = 0; i < 50; ++i) {
    member->count_outcome(0, RequestOutcome::upstream_5xx);  // 50 failures, under the minimum
  }
  CHECK(judge.round({view}, t + std::chrono::seconds(1), 1'001'000).empty());
  for (int i = 0; i < 50; ++i) {
    member->count_outcome(0, RequestOutcome::answered);
  }
  const auto verdicts = judge.round({view}, t + std::chrono::seconds(2), 1'002'000);
  REQUIRE(verdicts.size() == 1);
  CHECK_FALSE(verdicts.front().promote);
  CHECK(verdicts.front().reason.find("50.0% (50 of 100 requests)") != std::string::npos);
  // Outside the window old failures no longer count: a clean window with a bake time promotes.
  CanaryView baked = view;
  baked.policy.bake_s = 60;
  CanaryJudge later;
  CHECK(later.round({baked}, t, 1'000'000).empty());
  for (int i = 0; i < 200; ++i) {
    member->count_outcome(0, RequestOutcome::answered);
  }
  CHECK(later.round({baked}, t + std::chrono::seconds(20), 1'020'000).empty());
  CHECK(later.round({baked}, t + std::chrono::seconds(59), 1'059'999).empty());
  const auto promoted = later.round({baked}, t + std::chrono::seconds(60), 1'060'000);
  REQUIRE(promoted.size() == 1);
  CHECK(promoted.front().promote);
}

TEST_CASE("a baked canary that served fewer than its minimum is not promoted") {
  using handoff::control::CanaryJudge;
  using handoff::control::CanaryView;
  auto member = handoff::test::loopback_upstream(4);
  CanaryView view{"web", UpstreamSet::of(member), {}, 1000, {0.01, 10, 100, 1}, 1'000'000};
  CanaryJudge judge;
  const auto t = CanaryJudge::Clock::now();
  CHECK(judge.round({view}, t, 1'000'000).empty());
  CHECK(judge.round({view}, t + std::chrono::seconds(5), 1'005'000).empty());  // 0 requests
  for (int i = 0; i < 99; ++i) {
    member->count_outcome(0, RequestOutcome::answered);
  }
  CHECK(judge.round({view}, t + std::chrono::seconds(6), 1'006'000).empty());  // 99
  member->count_outcome(0, RequestOutcome::answered);
  const auto promoted = judge.round({view}, t + std::chrono::seconds(7), 1'007'000);
  REQUIRE(promoted.size() == 1);
  CHECK(promoted.front().promote);
}

TEST_CASE("a canary after a promoted one is judged on its own requests alone, ten times over") {
  using handoff::control::CanaryJudge;
  using handoff::control::CanaryView;
  using std::chrono::milliseconds;
  CanaryJudge judge;
  auto t = CanaryJudge::Clock::now();
  std::int64_t unix_ms = 1'000'000;
  const handoff::control::CanaryPolicy policy{0.01, 1, 100, 0};  // a 1 s window
  for (int round = 0; round < 10; ++round) {
    CAPTURE(round);
    // A healthy canary with much traffic, judged twice and then gone (promoted).
    auto healthy = handoff::test::loopback_upstream(4);
    CanaryView good{"web", UpstreamSet::of(healthy), {}, 5000, policy, unix_ms};
    CHECK(judge.round({good}, t, unix_ms).empty());
    for (int i = 0; i < 5000; ++i) {
      healthy->count_outcome(0, RequestOutcome::answered);
    }
    CHECK(judge.round({good}, t += milliseconds(2000), unix_ms += 2000).empty());
    good = {};
    healthy.reset();
    // The next canary (its set may sit where the last one's did) fails every request: its
    // first sample starts its window, and it is rolled back once the window holds its minimum.
    auto failing = handoff::test::loopback_upstream(4);
    CanaryView bad{"web", UpstreamSet::of(failing), {}, 5000, policy, unix_ms};
    for (int i = 0; i < 100; ++i) {
      failing->count_outcome(0, RequestOutcome::upstream_5xx);
    }
    CHECK(judge.round({bad}, t += milliseconds(1500), unix_ms += 1500).empty());
    for (int i = 0; i < 100; ++i) {
      failing->count_outcome(0, RequestOutcome::upstream_5xx);
    }
    const auto verdicts = judge.round({bad}, t += milliseconds(500), unix_ms += 500);
    REQUIRE(verdicts.size() == 1);
    CHECK_FALSE(verdicts.front().promote);
    CHECK(verdicts.front().reason.find("(100 of 100 requests)") != std::string::npos);
    t += milliseconds(2000);
    unix_ms += 2000;
  }
}
