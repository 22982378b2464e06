#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/handoff_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace handoff::test {

/// `handoff run` as a real process on 127.0.0.1 with its own control socket and state
/// directory, plus a way to run the CLI against it.
class RunningProxy {
 public:
  /// Starts it; `extra` are more `run` flags (e.g. --upstream).
  explicit RunningProxy(const std::filesystem::path& dir, std::vector<std::string> extra = {});

  /// The HTTP port.
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// The first HTTPS port (run with --listen-tls); waits for it to be announced.
  [[nodiscard]] std::uint16_t tls_port() const;
  /// The control socket path.
  [[nodiscard]] std::string control() const { return control_; }
  /// The process.
  HandoffProcess& process() { return *process_; }
  /// Runs `handoff VERB ARGS... --control SOCKET`.
  CommandResult cli(std::vector<std::string> args) const;
  /// The requests in flight on `service`'s serving set, as status shows them (-1: no such
  /// service).
  [[nodiscard]] std::int64_t in_flight(const std::string& service) const;
  /// The requests `service` has answered since this process started, as status shows them
  /// (-1: no such service, or no process answers).
  [[nodiscard]] std::int64_t requests(const std::string& service) const;

 private:
  std::string control_;
  std::unique_ptr<HandoffProcess> process_;
  std::uint16_t port_ = 0;
};

}  // namespace handoff::test
