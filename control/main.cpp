#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "control/cli/cli_commands.hpp"
#include "control/daemon/run_command.hpp"

namespace {

constexpr std::string_view kHelp =
    "handoff: a reverse proxy that is also the deploy tool\n"
    "\n"
    "usage: handoff COMMAND [flags]\n"
    "\n"
    "commands:\n"
    "  run       run the proxy\n"
    "  status    show services, upstreams, requests in flight and draining\n"
    "  swap      health-check a new upstream, switch a service to it, drain the old one\n"
    "  deploy    run a new container, health-gate it, switch to it, retire the old one\n"
    "  rollback  swap a service back to its previous upstream or container, or end its canary\n"
    "  scale     run more or fewer replicas of a deployed service, without a new version\n"
    "  canary    change the share of clients a running canary (deploy/swap --canary) takes\n"
    "  promote   make a running canary the serving set\n"
    "  pause     hold new requests to a service until resume\n"
    "  resume    release held requests\n"
    "  service   add, update, list or remove services (routed by Host)\n"
    "  logs      the last log lines of a service's container\n"
    "  upgrade   replace the running handoff with a new binary, refusing no connection\n"
    "  version   print the version (also --version)\n"
    "  help      this help, or a command's (`handoff help deploy`)\n"
    "\n"
    "Control commands reach the proxy through its control socket: --control PATH, else\n"
    "$HANDOFF_CONTROL, else /run/handoff/control.sock (before or after the command). Each\n"
    "command takes --help. Exit codes: 0 done, 1 the operation failed, 2 bad usage, 3 no proxy\n"
    "answers.\n";

// Moves the flags every control command takes (--control PATH, --json) from before the command
// to after it, as `handoff --control X status` means `handoff status --control X`.
void move_leading_flags(std::vector<std::string_view>& args) {
  std::vector<std::string_view> leading;
  while (!args.empty()) {
    const std::string_view first = args.front();
    const std::size_t take = first == "--control" && args.size() > 1                ? 2
                             : first.starts_with("--control=") || first == "--json" ? 1
                                                                                    : 0;
    if (take == 0) {
      break;
    }
    leading.insert(leading.end(), args.begin(), args.begin() + static_cast<std::ptrdiff_t>(take));
    args.erase(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(take));
  }
  if (!args.empty()) {
    args.insert(args.begin() + 1, leading.begin(), leading.end());
  } else {
    args = leading;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  move_leading_flags(args);
  if (args.size() == 2 && args[0] == "help") {
    args = {args[1], "--help"};  // `handoff help deploy` is `handoff deploy --help`
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print("{}", kHelp);
    return args.empty() ? 2 : 0;
  }
  if (args[0].starts_with("--") && args[0] != "--version") {
    fmt::print(stderr, "handoff: '{}' before a command (see handoff --help)\n", args[0]);
    return 2;
  }
  if (args[0] == "--version" || args[0] == "version") {
    fmt::print("handoff {}\n", HANDOFF_VERSION);
    return 0;
  }
  const std::string_view command = args[0];
  args.erase(args.begin());
  if (command == "run") {
    return handoff::control::run_command(args);
  }
  if (int code = handoff::control::control_command(command, args); code >= 0) {
    return code;
  }
  fmt::print(stderr, "handoff: unknown command '{}' (see handoff --help)\n", command);
  return 2;
}
