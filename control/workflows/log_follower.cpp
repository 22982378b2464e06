#include "control/workflows/log_follower.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "control/base/domain_error.hpp"
#include "control/protocol/progress_events.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

ContainerRef serving_container(ServiceRegistry& registry, const std::string& service) {
  const ContainerRef current = registry.view(service).first_container();
  if (current.id.empty()) {
    throw DomainError(
        ErrorKind::conflict, "no_container",
        fmt::format("service '{}' does not run in a container handoff deployed", service));
  }
  return current;
}

// Why following ended, for the result.
OperationResult ended(const std::string& service, const ContainerRef& last, const char* reason) {
  return operation_done(
      WorkflowResult{.service = service, .container = last.name, .ended = reason});
}

}  // namespace

Operation prepare_log_follow(ServiceRegistry& registry, const EngineFactory& engines,
                             const std::string& service, int tail,
                             const std::atomic<bool>& stopping) {
  const ContainerRef first = serving_container(registry, service);
  return [&registry, engines, service, tail, first, &stopping](EventSink& sink) {
    std::unique_ptr<containers::Engine> engine;
    try {
      engine = engines();
    } catch (const containers::EngineError& e) {
      return operation_error(ErrorKind::unavailable, "engine_unreachable", e.what());
    }
    const auto keep_going = [&] { return !sink.abandoned() && !stopping.load(); };
    const auto output = [&](std::string_view text) {
      sink.emit(to_wire(LogEvent{.log = std::string(text)}));
    };
    ContainerRef current = first;
    int lines = tail;
    while (true) {
      try {
        engine->follow_logs(current.id, lines, output, keep_going);
      } catch (const containers::EngineError& e) {
        return operation_error(e.status() == 404 ? ErrorKind::conflict : ErrorKind::unavailable,
                               "engine_error", e.what());
      }
      if (!keep_going()) {
        return ended(service, current, stopping.load() ? "shutting down" : "the reader left");
      }
      ContainerRef next;
      try {
        next = registry.view(service).first_container();
      } catch (const DomainError&) {
        return ended(service, current, "the service was removed");
      }
      if (next.id.empty() || next.id == current.id) {
        return ended(service, current, "the container stopped");
      }
      current = next;
      lines = -1;  // the new container started before the switch: all it has said
      sink.emit(to_wire(LogEvent{.following = current.name}));
    }
  };
}

}  // namespace handoff::control
