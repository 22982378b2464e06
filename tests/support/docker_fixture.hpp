#pragma once

#include <map>
#include <string>

namespace handoff::test {

/// Runs a shell command; returns its exit code and stdout.
std::pair<int, std::string> shell(const std::string& command);

/// The image of the test app, built FROM scratch once per test run (no registry needed).
/// Fails the test loudly when no Docker engine answers: these tests are never skipped.
std::string test_app_image();

/// A service name unique to this test run, so that tests never touch each other's containers.
std::string unique_service(const std::string& base);

/// The containers labelled for `service`: name -> state (running, exited, ...), from `docker ps`.
std::map<std::string, std::string> service_containers(const std::string& service);

/// Removes every container labelled for `service` (at the end of a test).
class ServiceCleanup {
 public:
  explicit ServiceCleanup(std::string service) : service_(std::move(service)) {}
  ~ServiceCleanup();

 private:
  std::string service_;
};

}  // namespace handoff::test
