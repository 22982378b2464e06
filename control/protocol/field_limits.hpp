#pragma once

#include <cstdint>

namespace handoff::control {

/// The range a whole-number field of the control API accepts. The CLI checks a flag against
/// the same range the API checks its field against, so bad input is refused (exit 2) before it
/// reaches the proxy, and both say the same bounds.
struct FieldRange {
  std::int64_t min;
  std::int64_t max;
};

/// Containers in a deployed set (deploy --replicas, scale N).
inline constexpr FieldRange kReplicasRange{1, 100};
/// Stopped sets kept for rollback (--keep).
inline constexpr FieldRange kKeepRange{0, 100};
/// An app's port inside its container (--port).
inline constexpr FieldRange kPortRange{1, 65535};
/// Consecutive health-check answers (--healthy-threshold, --unhealthy-threshold).
inline constexpr FieldRange kThresholdRange{1, 100};
/// Requests a canary serves before it is judged (--min-requests).
inline constexpr FieldRange kMinRequestsRange{1, 1'000'000'000};
/// Strict-Transport-Security max-age in seconds (--hsts): up to two years.
inline constexpr FieldRange kHstsRange{0, 2LL * 365 * 24 * 3600};
/// A service's own cap on each member's connections in use (--max-conns-per-member; 0: none).
inline constexpr FieldRange kMaxConnsRange{0, 1'000'000};
/// Log lines asked for (logs --tail).
inline constexpr FieldRange kTailRange{0, 100'000};

}  // namespace handoff::control
