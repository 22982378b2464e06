#pragma once

#include <string_view>
#include <vector>

namespace handoff::control {

/// Runs a control verb (`status`, `swap`, `rollback`, `pause`, `resume`, `service`) against a
/// running proxy. Returns the exit code, or -1 when `verb` is not one of them.
int control_command(std::string_view verb, const std::vector<std::string_view>& args);

}  // namespace handoff::control
