#pragma once

#include <stdexcept>
#include <string>

namespace handoff::control {

/// A request the control API refuses: an HTTP status, a short code and a message for people.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  /// HTTP status to answer with.
  [[nodiscard]] int status() const { return status_; }
  /// Machine-readable code, e.g. `unknown_service`.
  [[nodiscard]] const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

}  // namespace handoff::control
