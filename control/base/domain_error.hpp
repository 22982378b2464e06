#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace handoff::control {

/// What kind of refusal or failure, in the control plane's own words. Only the API edge
/// (`http_status` in control_api.hpp) turns a kind into an HTTP status.
enum class ErrorKind : std::uint8_t {
  invalid,             ///< the request is malformed, or asks for something impossible
  not_found,           ///< no such service, endpoint or container
  method_not_allowed,  ///< the endpoint exists; the method does not
  conflict,            ///< the current state forbids it (busy, taken, nothing to roll back)
  check_failed,        ///< the new version never became ready (exited, unhealthy, no address)
  engine_failed,       ///< the container engine failed a call it should have served
  unavailable,         ///< the engine cannot be reached, or handoff is shutting down
  not_saved,           ///< the state could not be made durable, so the change was not made
  internal,            ///< a fault in handoff itself
};

/// A request the control plane refuses, or an operation that failed: a kind, a short
/// machine-readable code (e.g. `unknown_service`) and a message for people.
class DomainError : public std::runtime_error {
 public:
  DomainError(ErrorKind kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  /// What kind of error it is.
  [[nodiscard]] ErrorKind kind() const { return kind_; }
  /// Machine-readable code.
  [[nodiscard]] const std::string& code() const { return code_; }

 private:
  ErrorKind kind_;
  std::string code_;
};

}  // namespace handoff::control
