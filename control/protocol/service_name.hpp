#pragma once

#include <string>
#include <string_view>

namespace handoff::control {

/// Whether `name` may name a service: 1-63 of a-z, 0-9, '-' and '_'. The rule keeps a name
/// safe as a path segment of the control API, a container name prefix and a label value.
bool is_service_name(std::string_view name);

/// Why `name` is not a service name (for a refusal), or "" when it is one.
std::string service_name_problem(std::string_view name);

}  // namespace handoff::control
