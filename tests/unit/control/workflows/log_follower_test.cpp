// `logs --follow` against a FakeEngine: output as it comes, across a deploy, and an end when the
// reader leaves, the container stops or the proxy shuts down.
#include "control/workflows/log_follower.hpp"

#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "control/base/domain_error.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/workflow_harness.hpp"

using namespace handoff;
using namespace handoff::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// Everything the follower emitted as log text, joined.
std::string log_text(const Events& events) {
  std::string text;
  for (const json::object& e : events.all()) {
    if (const json::value* log = e.if_contains("log")) {
      text += log->as_string();
    }
  }
  return text;
}

}  // namespace

TEST_CASE("following logs goes on with the new container after a deploy, until the reader leaves") {
  Harness h;
  Events setup;
  REQUIRE(code_of(h.deploy("app:v1", setup)) == "ok");
  const std::string v1 = h.registry.view("web").first_container().name;
  h.engine.say(v1, "request 1");
  const std::atomic<bool> stopping{false};
  Events events;
  auto op = control::prepare_log_follow(h.registry, h.engine.factory(), "web", 1, stopping);
  auto done = std::async(std::launch::async, [&] { return op(events); });
  // The last line only, then what comes.
  REQUIRE(eventually([&] { return log_text(events) == "request 1\n"; }));
  h.engine.say(v1, "request 2");
  REQUIRE(eventually([&] { return log_text(events) == "request 1\nrequest 2\n"; }));

  Events deploy_events;
  REQUIRE(code_of(h.deploy("app:v2", deploy_events)) == "ok");
  const std::string v2 = h.registry.view("web").first_container().name;
  h.engine.say(v2, "request 3");
  REQUIRE(eventually([&] {
    return log_text(events) ==
           "request 1\nrequest 2\n" + v1 + " stopped\n" + v2 + " started\n" + "request 3\n";
  }));
  const auto all = events.all();
  CHECK(std::any_of(all.begin(), all.end(),
                    [&](const json::object& e) { return e.contains("following"); }));
  CHECK(done.wait_for(0ms) == std::future_status::timeout);

  events.leave();
  REQUIRE(done.wait_for(2s) == std::future_status::ready);
  const control::OperationResult r = done.get();
  CHECK(r.result.at("ended") == "the reader left");
}

TEST_CASE("following logs ends when the serving container stops, or when the proxy shuts down") {
  Harness h;
  Events setup;
  REQUIRE(code_of(h.deploy("app:v1", setup)) == "ok");
  const control::ContainerRef current = h.registry.view("web").first_container();
  std::atomic<bool> stopping{false};
  {
    Events events;
    auto op = control::prepare_log_follow(h.registry, h.engine.factory(), "web", 10, stopping);
    auto done = std::async(std::launch::async, [&] { return op(events); });
    REQUIRE(eventually([&] { return !log_text(events).empty(); }));
    stopping = true;
    REQUIRE(done.wait_for(2s) == std::future_status::ready);
    CHECK(done.get().result.at("ended") == "shutting down");
  }
  stopping = false;
  Events events;
  auto op = control::prepare_log_follow(h.registry, h.engine.factory(), "web", 10, stopping);
  auto done = std::async(std::launch::async, [&] { return op(events); });
  REQUIRE(eventually([&] { return !log_text(events).empty(); }));
  h.engine.stop(current.id, 1s);  // it crashed: the service still names it
  REQUIRE(done.wait_for(2s) == std::future_status::ready);
  CHECK(done.get().result.at("ended") == "the container stopped");
  CHECK(log_text(events) == current.name + " started\n" + current.name + " stopped\n");
}

TEST_CASE("following the logs of a service without a container is refused before it starts") {
  Harness h;
  const std::atomic<bool> stopping{false};
  CHECK_THROWS_AS(control::prepare_log_follow(h.registry, h.engine.factory(), "web", 10, stopping),
                  control::DomainError);
  CHECK_THROWS_AS(control::prepare_log_follow(h.registry, h.engine.factory(), "nope", 10, stopping),
                  control::DomainError);
}
