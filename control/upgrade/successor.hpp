#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace handoff::control {

/// A new handoff started to take over from this one: a process beside this one, or a container
/// beside this one's container.
class Successor {
 public:
  virtual ~Successor() = default;
  /// The token it was started with (see SuccessorId).
  [[nodiscard]] virtual const std::string& token() const = 0;
  /// How messages name it, e.g. "pid 4321" or "container front-next-1a2b3c4d".
  [[nodiscard]] virtual std::string name() const = 0;
  /// Passes on what it has printed so far (to this process's stderr), never waiting.
  virtual void copy_output() = 0;
  /// Why it ended, once it has ended, e.g. "exited with status 2".
  virtual std::optional<std::string> ended() = 0;
  /// Stops it for good and removes what was made for it: it did not take over.
  virtual void abandon() = 0;
  /// Its last lines of output, each on a new line, indented.
  virtual std::string last_lines() = 0;
};

}  // namespace handoff::control
