#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "control/protocol/event_sink.hpp"

namespace handoff::control {

/// The steps of the swap, deploy and rollback workflows, in the order they run. Their names are
/// the "step" field of the NDJSON progress events, and the CLI reads them back with
/// `parse_step`, so a step is named in one place.
enum class Step : std::uint8_t {
  begin,         ///< what is switched to what
  pull,          ///< the image is pulled (deploy, when --pull says so)
  create,        ///< the new container is created (deploy)
  start,         ///< it is started and runs (deploy, container rollback)
  address,       ///< its address is found (deploy, container rollback)
  health_check,  ///< the engine's health and the HTTP gate
  swap,          ///< the atomic switch
  drain,         ///< requests on the old upstream finish
  retire,        ///< the old container is stopped; those beyond --keep are removed
  cleanup,       ///< a failed deploy's new container is removed (or a kept one stopped again)
  handover,      ///< a new handoff process takes the listening sockets and the state (upgrade)
};

/// Where a step is.
enum class StepState : std::uint8_t { started, running, done, warning };

/// The step's name in events, e.g. "health_check".
std::string_view step_name(Step step);
/// The state's name in events, e.g. "done".
std::string_view state_name(StepState state);
/// The step an event names; empty for an unknown name.
std::optional<Step> parse_step(std::string_view name);
/// The state an event names; empty for an unknown name.
std::optional<StepState> parse_state(std::string_view name);

/// Emits one progress event: {"step": STEP, "state": STATE} and the `fields`.
void emit_step(EventSink& sink, Step step, StepState state, boost::json::object fields = {});

}  // namespace handoff::control
