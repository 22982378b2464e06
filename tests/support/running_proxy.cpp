#include "tests/support/running_proxy.hpp"

#include <cstdlib>

namespace handoff::test {

RunningProxy::RunningProxy(const std::filesystem::path& dir, std::vector<std::string> extra)
    : control_((dir / "control.sock").string()) {
  std::vector<std::string> args = {"run",
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--control",
                                   control_,
                                   "--state-dir",
                                   (dir / "state").string(),
                                   "--no-access-log"};
  args.insert(args.end(), extra.begin(), extra.end());
  process_ = std::make_unique<HandoffProcess>(args);
  port_ = process_->wait_listening();
  // The control socket is bound before the listener is announced.
}

CommandResult RunningProxy::cli(std::vector<std::string> args) const {
  args.push_back("--control");
  args.push_back(control_);
  return run_command(std::move(args));
}

}  // namespace handoff::test
