#include "tests/support/running_proxy.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "tests/support/unix_http.hpp"

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

std::uint16_t RunningProxy::tls_port() const {
  constexpr std::string_view kLine = "listening for HTTPS on 127.0.0.1:";
  for (int i = 0; i < 500; ++i) {
    const std::string err = process_->stderr_text();
    if (const std::size_t at = err.find(kLine); at != std::string::npos) {
      return static_cast<std::uint16_t>(std::stoi(err.substr(at + kLine.size())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("no HTTPS listener announced: " + process_->stderr_text());
}

CommandResult RunningProxy::cli(std::vector<std::string> args) const {
  args.push_back("--control");
  args.push_back(control_);
  return run_command(std::move(args));
}

std::int64_t RunningProxy::in_flight(const std::string& service) const {
  const boost::json::value status =
      boost::json::parse(unix_request(control_, "GET", "/v1/status").body);
  for (const auto& s : status.at("services").as_array()) {
    if (s.at("name").as_string() == service) {
      return s.at("in_flight").to_number<std::int64_t>();
    }
  }
  return -1;
}

}  // namespace handoff::test
