#include "control/protocol/workflow_step.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <set>
#include <string>

#include "control/protocol/json_fields.hpp"
#include "control/protocol/progress_events.hpp"
#include "control/protocol/progress_printer.hpp"

using namespace handoff::control;

TEST_CASE("every step and state has one name, read back as the same step") {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(Step::cleanup); ++i) {
    const auto step = static_cast<Step>(i);
    CHECK(parse_step(step_name(step)) == step);
    CHECK(names.insert(step_name(step)).second);
  }
  for (int i = 0; i <= static_cast<int>(StepState::warning); ++i) {
    const auto state = static_cast<StepState>(i);
    CHECK(parse_state(state_name(state)) == state);
  }
  CHECK_FALSE(parse_step("health-check").has_value());
  CHECK_FALSE(parse_state("").has_value());
}

TEST_CASE("a step event carries its step and state beside its fields") {
  struct Keep : EventSink {
    boost::json::object last;
    void emit(boost::json::object e) override { last = std::move(e); }
  } sink;
  emit_step(sink, Step::drain, StepState::running, {{"in_flight", 3}});
  CHECK(field_text(sink.last, "step") == "drain");
  CHECK(field_text(sink.last, "state") == "running");
  CHECK(boost::json::serialize(sink.last) == R"({"step":"drain","state":"running","in_flight":3})");
  emit_begin(sink, BeginEvent{.service = "web", .from = "a", .to = "b"});
  CHECK(boost::json::serialize(sink.last) ==
        R"({"step":"begin","service":"web","from":"a","to":"b"})");
}
