#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <stop_token>

#include "control/base/domain_error.hpp"

namespace handoff::control {

/// Where a long operation reports its progress: one JSON object per event, in order.
class EventSink {
 public:
  virtual ~EventSink() = default;
  /// Reports one event; thread-safe.
  virtual void emit(boost::json::object event) = 0;
  /// Whether whoever reads the events has gone. Only an operation that exists to be watched
  /// (following logs) stops then; a deploy runs to its end.
  [[nodiscard]] virtual bool abandoned() const { return false; }
  /// Says when the operation is asked to stop (the proxy is shutting down): its waits end at
  /// once and it winds up as after a failure.
  [[nodiscard]] const std::stop_token& stop_token() const { return stop_; }
  /// Ties the sink to its operation's stop requests.
  void bind_stop(std::stop_token stop) { stop_ = std::move(stop); }

 private:
  std::stop_token stop_;
};

/// How a long operation ended: how it failed (nothing when it succeeded) and the final result
/// event.
struct OperationResult {
  std::optional<ErrorKind> failure;
  boost::json::object result;
};

/// A long operation (swap, rollback): runs on a thread of its own, may block.
using Operation = std::function<OperationResult(EventSink&)>;

/// A result event for a failure: {"result":"error","error":CODE,"message":TEXT}.
OperationResult operation_error(ErrorKind kind, std::string_view code, std::string_view message);

}  // namespace handoff::control
