#include "control/protocol/progress_events.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "control/protocol/progress_printer.hpp"

namespace json = boost::json;
using namespace handoff::control;

namespace {

// What a printer prints (out and err) for these NDJSON lines, and its exit code.
std::pair<std::string, int> printed(std::initializer_list<std::string> lines) {
  std::FILE* out = std::tmpfile();
  ProgressPrinter printer("deploy", false, out, out);
  for (const std::string& line : lines) {
    printer.line(line);
  }
  const int code = printer.finish();
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) {
    text.push_back(static_cast<char>(c));
  }
  std::fclose(out);
  return {text, code};
}

// The event as the workflow's sink would see it, as one NDJSON line.
template <typename Event>
std::string line_of(StepState state, const Event& event) {
  struct Keep : EventSink {
    json::object last;
    void emit(json::object e) override { last = std::move(e); }
  } sink;
  emit_event(sink, state, event);
  return json::serialize(sink.last);
}

}  // namespace

TEST_CASE("a result reads back field for field, nested records too") {
  WorkflowResult sent{
      .service = "web",
      .to = "127.0.0.1:9002",
      .containers = std::vector<std::string>{"web-3", "web-4"},
      .generation = 7,
      .canary = CanaryServing{.to = "127.0.0.1:9003", .percent = 12.5},
      .elapsed_ms = 900,
      .cost = CostReport{.old_version = VersionOutcome{.upstream = "127.0.0.1:9001", .failed = 2},
                         .latency = LatencyReport{.after = LatencyWindow{.p99_ms = 4.5}}}};
  const json::object wire = to_wire(sent);
  CHECK(wire.at("result") == "ok");
  CHECK(wire.at("cost").at("old").at("failed") == 2);
  CHECK_FALSE(wire.contains("from"));  // not set: not sent
  const auto back = from_wire<WorkflowResult>(wire);
  CHECK(back.service == sent.service);
  CHECK(back.containers == sent.containers);
  CHECK(back.generation == 7);
  CHECK(back.canary->percent == 12.5);
  CHECK(back.cost->old_version->upstream == "127.0.0.1:9001");
  CHECK(back.cost->latency->after->p99_ms == 4.5);
  CHECK_FALSE(back.from);
}

TEST_CASE("a field the reader does not know is passed over, one of another type names itself") {
  const auto fine = from_wire<DrainEvent>(
      json::parse(R"({"in_flight":3,"said_by_a_newer_proxy":true})").as_object());
  CHECK(fine.in_flight == 3);
  CHECK_THROWS_WITH_AS(from_wire<DrainEvent>(json::parse(R"({"in_flight":"3"})").as_object()),
                       "field 'in_flight' is not a whole number", WireError);
  CHECK_THROWS_WITH_AS(from_wire<WorkflowResult>(json::parse(R"({"service":"web"})").as_object()),
                       "field 'result' is missing", WireError);
}

TEST_CASE("what a workflow emits is what the printer prints") {
  auto [text, code] = printed(
      {line_of(StepState::started,
               DrainEvent{.upstream = "127.0.0.1:9001", .in_flight = 2, .timeout_ms = 30000}),
       line_of(StepState::done, DrainEvent{.elapsed_ms = 1500, .closed = 0}),
       json::serialize(to_wire(WorkflowResult{.elapsed_ms = 2000}))});
  CHECK(code == 0);
  CHECK(text.find("drain         2 in flight on 127.0.0.1:9001 (timeout 30.0s)") !=
        std::string::npos);
  CHECK(text.find("drain         done in 1.5s, 0 closed at the timeout") != std::string::npos);
}

TEST_CASE("a field an event leaves out prints as '?', and a mistyped event is reported") {
  auto [text, code] =
      printed({R"({"step":"health_check","state":"running","attempt":1,"status":200})",
               R"({"step":"drain","state":"done","elapsed_ms":1500})",
               R"({"step":"swap","state":"done","from":"a","to":7})",
               R"({"result":"ok","elapsed_ms":2000})"});
  CHECK(code == 0);
  CHECK(text.find("attempt 1: HTTP 200 (?/? healthy, ?)") != std::string::npos);
  CHECK(text.find("drain         done in 1.5s\n") != std::string::npos);  // closed: not said
  CHECK(text.find("a progress event this handoff cannot read (field 'to' is not a string)") !=
        std::string::npos);
}
