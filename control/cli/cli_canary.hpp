#pragma once

#include <boost/json/object.hpp>
#include <string_view>
#include <vector>

#include "control/base/flags.hpp"
#include "control/protocol/requests.hpp"

namespace handoff::control {

/// The flags that start the new set as a canary (`swap` and `deploy`): --canary, and how it is
/// judged (--max-error-rate, --window, --min-requests, --bake).
void add_canary_flags(std::vector<Flag>& flags, CanaryRequest& canary);

/// `handoff promote SERVICE`: the running canary becomes the serving set.
int promote_command(const std::vector<std::string_view>& args);

/// `handoff canary SERVICE --percent P%`: the share of clients the running canary takes.
int canary_command(const std::vector<std::string_view>& args);

}  // namespace handoff::control
