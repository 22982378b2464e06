#pragma once

#include <string>

namespace handoff::test {

/// A swarm for one test: the machine's engine as a single-node swarm on loopback. The tests
/// that use it take turns (a file lock), since one may start the swarm and leave it. When no
/// swarm runs, it starts one (`docker swarm init --advertise-addr 127.0.0.1`) and leaves it at
/// the end, with the network the swarm made; a swarm that ran before is left running. At the
/// end it removes the Swarm services and records handoff made for `service`.
class SwarmFixture {
 public:
  explicit SwarmFixture(std::string service);
  ~SwarmFixture();
  SwarmFixture(const SwarmFixture&) = delete;
  SwarmFixture& operator=(const SwarmFixture&) = delete;

  /// The service the test deploys (unique to the test run).
  [[nodiscard]] const std::string& service() const { return service_; }
  /// The Swarm services of the test's service: name -> "RUNNING/DESIRED" replicas.
  [[nodiscard]] std::string versions() const;

 private:
  std::string service_;
  int lock_ = -1;
  bool started_swarm_ = false;
  bool made_bridge_ = false;
};

}  // namespace handoff::test
