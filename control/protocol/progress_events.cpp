#include "control/protocol/progress_events.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace handoff::control {

namespace json = boost::json;

void emit_begin(EventSink& sink, const BeginEvent& event) {
  json::object out{{"step", step_name(Step::begin)}};
  for (auto& [key, value] : to_wire(event)) {
    out[key] = std::move(value);
  }
  sink.emit(std::move(out));
}

}  // namespace handoff::control
