#pragma once

#include <cstdint>
#include <string>

namespace handoff::test {

/// What one wrk run reported.
struct WrkResult {
  long requests = 0;        ///< responses read
  long connect_errors = 0;  ///< "Socket errors: connect N"
  long read_errors = 0;     ///< … read N
  long write_errors = 0;    ///< … write N
  long timeouts = 0;        ///< … timeout N
  long non_2xx = 0;         ///< "Non-2xx or 3xx responses: N"
  std::string output;       ///< wrk's whole report

  /// Requests that failed in any way.
  [[nodiscard]] long failed() const {
    return connect_errors + read_errors + write_errors + timeouts + non_2xx;
  }
};

/// Runs `wrk -t2 -c CONNECTIONS -d SECONDS --timeout 10s` against http://127.0.0.1:PORT/ (with the
/// Lua `script` when given) and parses its report. Throws std::runtime_error when wrk cannot run.
WrkResult run_wrk(std::uint16_t port, int seconds, int connections, const std::string& script = {});

}  // namespace handoff::test
