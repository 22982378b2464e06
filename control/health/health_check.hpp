#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "control/protocol/event_sink.hpp"

namespace handoff::control {

/// How a target is judged healthy before traffic is switched to it.
struct HealthCheckOptions {
  bool enabled = true;
  std::string path = "/up";
  std::string host;  ///< Host header to send; empty means the target's address
  std::chrono::milliseconds interval{1000};
  unsigned healthy_threshold = 2;             ///< consecutive 2xx answers needed
  unsigned unhealthy_threshold = 3;           ///< consecutive failures that eject a serving member
  std::chrono::milliseconds timeout{30'000};  ///< the whole gate (the deploy timeout)
};

/// One probe's outcome: the HTTP status, or 0 with an error text.
struct ProbeResult {
  int status = 0;
  std::string error;
};

/// GETs `path` on `address` (HOST:PORT) once, without following redirects. Blocking.
ProbeResult probe_http(const std::string& address, const HealthCheckOptions& options,
                       std::chrono::milliseconds timeout);

/// Says why probing is pointless (e.g. the container exited), or "" to go on.
using GiveUpCheck = std::function<std::string()>;

/// Probes until `healthy_threshold` consecutive 2xx answers or the gate's timeout, reporting
/// each attempt to `sink`; `give_up` is asked after each failed attempt. Returns an empty
/// string when healthy, else why not.
std::string run_health_gate(const std::string& address, const HealthCheckOptions& options,
                            EventSink& sink, const GiveUpCheck& give_up = {});

/// Gates every address at once (one thread each; their events carry "upstream"); `give_up`,
/// when given, holds one check per address. Returns "" when all passed, else why the first
/// that failed did not: all or nothing.
std::string run_health_gates(const std::vector<std::string>& addresses,
                             const HealthCheckOptions& options, EventSink& sink,
                             const std::vector<GiveUpCheck>& give_up = {});

}  // namespace handoff::control
