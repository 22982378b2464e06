#include "proxy/upstream/upstream_set.hpp"

#include <doctest/doctest.h>

#include <map>

#include "proxy/routing/service.hpp"
#include "tests/support/loopback_upstream.hpp"

using namespace handoff::proxy;

namespace {

std::shared_ptr<const UpstreamSet> set_of(std::initializer_list<std::uint16_t> ports) {
  std::vector<std::shared_ptr<Upstream>> members;
  for (const std::uint16_t p : ports) {
    members.push_back(handoff::test::loopback_upstream(p, 1));
  }
  return std::make_shared<const UpstreamSet>(std::move(members));
}

// How many of `n` picks go to each member, by address.
std::map<std::string, int> spread(const UpstreamSet& set, Balancing how, int n,
                                  const Upstream* avoid = nullptr) {
  PickState state;
  std::map<std::string, int> out;
  for (int i = 0; i < n; ++i) {
    const std::shared_ptr<Upstream>* m = set.pick(how, state, avoid);
    REQUIRE(m != nullptr);
    out[(*m)->address()] += 1;
  }
  return out;
}

}  // namespace

TEST_CASE("both ways of balancing spread idle members evenly") {
  auto set = set_of({1, 2, 3});
  for (const Balancing how : {Balancing::least_of_two, Balancing::round_robin}) {
    const auto n = spread(*set, how, 3000);
    REQUIRE(n.size() == 3);
    for (const auto& [address, count] : n) {
      INFO(address);
      CHECK(count > 800);
      CHECK(count < 1200);
    }
  }
}

TEST_CASE("least of two never picks the busiest member while two others are idle") {
  auto set = set_of({1, 2, 3});
  set->members()[0]->enter(0);  // one request in flight on :1
  const auto n = spread(*set, Balancing::least_of_two, 3000);
  CHECK(n.count("127.0.0.1:1") == 0);
  set->members()[0]->leave(0);
}

TEST_CASE("an ejected member gets nothing while others serve, and least bad when all are out") {
  auto set = set_of({1, 2, 3});
  set->members()[1]->eject(Ejection::connect_error);
  for (const Balancing how : {Balancing::least_of_two, Balancing::round_robin}) {
    CHECK(spread(*set, how, 1000).count("127.0.0.1:2") == 0);
  }
  set->members()[0]->note_connect_failure(0);
  set->members()[0]->note_connect_failure(0);
  set->members()[2]->note_connect_failure(0);
  set->members()[1]->note_connect_failure(0);
  // Every member is out: the one with the fewest failures (:2 and :3 tie with one; :2 comes
  // first) serves rather than nobody.
  const auto n = spread(*set, Balancing::least_of_two, 100);
  CHECK(n == std::map<std::string, int>{{"127.0.0.1:2", 100}});
  set->members()[0]->readmit();
  CHECK(spread(*set, Balancing::round_robin, 10) ==
        std::map<std::string, int>{{"127.0.0.1:1", 10}});
}

TEST_CASE("a retry avoids the member it leaves, and a set of one has nowhere else to go") {
  auto set = set_of({1, 2});
  const Upstream* first = set->members()[0].get();
  for (const Balancing how : {Balancing::least_of_two, Balancing::round_robin}) {
    CHECK(spread(*set, how, 200, first) == std::map<std::string, int>{{"127.0.0.1:2", 200}});
  }
  auto one = set_of({1});
  PickState state;
  CHECK(one->pick(Balancing::least_of_two, state, one->members()[0].get()) == nullptr);
  set->members()[1]->eject(Ejection::failed_checks);
  // Only the avoided member and an ejected one: the ejected one still takes the retry.
  CHECK(spread(*set, Balancing::least_of_two, 10, first) ==
        std::map<std::string, int>{{"127.0.0.1:2", 10}});
}

TEST_CASE("a burst of 5xx ejects a member, and a success in between resets the count") {
  auto u = handoff::test::loopback_upstream(1, 1);
  for (std::uint32_t i = 0; i + 1 < kServerErrorBurst; ++i) {
    u->note_answer(500);
  }
  u->note_answer(200);
  for (std::uint32_t i = 0; i + 1 < kServerErrorBurst; ++i) {
    u->note_answer(503);
  }
  CHECK_FALSE(u->ejected());
  u->note_answer(502);
  CHECK(u->ejection() == Ejection::server_errors);
  u->eject(Ejection::failed_checks);  // the first reason stays
  CHECK(u->ejection() == Ejection::server_errors);
  u->readmit();
  CHECK_FALSE(u->ejected());
}

TEST_CASE("a swap to a set that keeps some members retires only the ones it drops") {
  auto first = set_of({1, 2});
  Service s("web", 1, first);
  std::vector<std::shared_ptr<Upstream>> members = first->members();
  members.erase(members.begin());  // scale down and up: :1 leaves, :2 stays, :3 joins
  members.push_back(handoff::test::loopback_upstream(3, 1));
  auto left = s.swap(std::make_shared<const UpstreamSet>(members));
  REQUIRE(left.size() == 1);
  CHECK(left[0]->address() == "127.0.0.1:1");
  CHECK(left[0]->retired());
  CHECK_FALSE(first->members()[1]->retired());
  for (int i = 0; i < 100; ++i) {
    InFlight f = s.acquire(0);
    CHECK(f.get() != left[0].get());
  }
}

TEST_CASE("rebind moves a request's count to another member of the current set") {
  Service s("web", 1, set_of({1, 2}));
  InFlight f = s.acquire(0);
  Upstream* before = f.get();
  REQUIRE(s.rebind(0, f));
  CHECK(f.get() != before);
  CHECK(before->in_flight() == 0);
  CHECK(f.get()->in_flight() == 1);
  Service single("one", 1, set_of({1}));
  InFlight g = single.acquire(0);
  CHECK_FALSE(single.rebind(0, g));
  CHECK(g.get()->in_flight() == 1);
}
