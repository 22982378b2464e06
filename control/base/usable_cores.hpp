#pragma once

#include <string_view>

namespace handoff::control {

/// The cores this process may use, like nginx's `worker_processes auto`: its CPU affinity,
/// capped by a cgroup CPU quota (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`), rounded up; at least 1.
unsigned usable_cores();

/// The cap a cgroup v2 `cpu.max` value ("QUOTA PERIOD", or "max PERIOD") puts on `cores`.
unsigned cores_within_quota(std::string_view cpu_max, unsigned cores);

}  // namespace handoff::control
