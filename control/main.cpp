#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "control/run_command.hpp"

namespace {

constexpr std::string_view kHelp =
    "handoff: a reverse proxy that is also the deploy tool\n"
    "\n"
    "usage: handoff COMMAND [flags]\n"
    "\n"
    "commands:\n"
    "  run       run the proxy (see handoff run --help)\n"
    "\n"
    "Each command takes --help.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", kHelp);
    return args.empty() ? 2 : 0;
  }
  const std::string_view command = args[0];
  args.erase(args.begin());
  if (command == "run") {
    return handoff::control::run_command(args);
  }
  fmt::print(stderr, "handoff: unknown command '{}' (see handoff --help)\n", command);
  return 2;
}
