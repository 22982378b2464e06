#pragma once

#include <string_view>
#include <vector>

namespace handoff::control {

/// `handoff run`: the proxy daemon. Returns the process exit code.
int run_command(const std::vector<std::string_view>& args);

}  // namespace handoff::control
