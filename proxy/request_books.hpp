#pragma once

#include <chrono>

#include "proxy/upstream/upstream.hpp"

namespace handoff::proxy {

class Service;

/// How one request ended, whatever protocol carried it: what its service, its upstream and
/// the access log count.
struct RequestEnding {
  int status = 0;                  ///< the status answered; 0: none
  bool cut = false;                ///< the response was cut short after it began
  bool killed = false;             ///< closed at a drain timeout or a forced shutdown
  bool client_left = false;        ///< the client ended it first (an HTTP/2 stream reset)
  bool connect_failed = false;     ///< no connection to the upstream could be made
  bool answered_by_proxy = false;  ///< the status is handoff's own answer, not the upstream's
  bool canary = false;             ///< the service's canary set answered it
};

/// How the request counts on its upstream.
RequestOutcome request_outcome(const RequestEnding& ending);

/// Counts a request that started at `started` and just ended on worker `w` on its service and
/// upstream (either may be null). Returns how long it took, for the access log.
std::chrono::steady_clock::duration count_request(Service* service, Upstream* upstream, unsigned w,
                                                  std::chrono::steady_clock::time_point started,
                                                  const RequestEnding& ending);

}  // namespace handoff::proxy
