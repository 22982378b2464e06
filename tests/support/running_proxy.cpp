#include "tests/support/running_proxy.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "tests/support/eventually.hpp"
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
  std::string err;
  if (eventually([&] {
        err = process_->stderr_text();
        return err.find(kLine) != std::string::npos;
      })) {
    return static_cast<std::uint16_t>(std::stoi(err.substr(err.find(kLine) + kLine.size())));
  }
  throw std::runtime_error("no HTTPS listener announced: " + process_->stderr_text());
}

CommandResult RunningProxy::cli(std::vector<std::string> args) const {
  args.push_back("--control");
  args.push_back(control_);
  return run_command(std::move(args));
}

namespace {

// A number field of the service's entry in status (-1: no such service, or no answer).
std::int64_t service_number(const std::string& control, const std::string& service,
                            std::string_view field) {
  boost::system::error_code ec;
  const boost::json::value status =
      boost::json::parse(unix_request(control, "GET", "/v1/status").body, ec);
  if (ec || !status.is_object()) {
    return -1;
  }
  for (const auto& s : status.at("services").as_array()) {
    if (s.at("name").as_string() == service) {
      return s.at(field).to_number<std::int64_t>();
    }
  }
  return -1;
}

}  // namespace

std::int64_t RunningProxy::in_flight(const std::string& service) const {
  return service_number(control_, service, "in_flight");
}

std::int64_t RunningProxy::requests(const std::string& service) const {
  return service_number(control_, service, "requests");
}

}  // namespace handoff::test
