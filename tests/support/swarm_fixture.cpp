#include "tests/support/swarm_fixture.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"

namespace handoff::test {

namespace {

bool swarm_active() {
  return shell("docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null").second == "active\n";
}

bool bridge_exists() {
  return shell("docker network ls -q --filter name=^docker_gwbridge$").second.size() > 1;
}

}  // namespace

SwarmFixture::SwarmFixture(std::string service) : service_(std::move(service)) {
  lock_ = ::open("/tmp/handoff-swarm-test.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  REQUIRE(lock_ >= 0);
  REQUIRE(::flock(lock_, LOCK_EX) == 0);
  if (!swarm_active()) {
    made_bridge_ = !bridge_exists();
    const auto [code, out] = shell("docker swarm init --advertise-addr 127.0.0.1 2>&1");
    REQUIRE_MESSAGE(code == 0, "cannot start a swarm: " << out);
    started_swarm_ = true;
  }
}

SwarmFixture::~SwarmFixture() {
  shell("docker service rm $(docker service ls -q --filter label=handoff.service=" + service_ +
        ") >/dev/null 2>&1");
  // Their tasks stop a moment later: the next test's tasks may want their ports.
  eventually(
      [&] {
        return shell("docker ps -q --filter label=handoff.service=" + service_).second.empty();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(100));
  shell("docker config rm $(docker config ls -q --filter label=handoff.record=" + service_ +
        ") >/dev/null 2>&1");
  if (started_swarm_) {
    shell("docker swarm leave --force >/dev/null 2>&1");
    if (made_bridge_) {
      shell("docker network rm docker_gwbridge >/dev/null 2>&1");
    }
  }
  ::close(lock_);  // lets the next swarm test go
}

std::string SwarmFixture::versions() const {
  return shell("docker service ls --filter label=handoff.service=" + service_ +
               " --format '{{.Name}} {{.Replicas}}' | sort")
      .second;
}

}  // namespace handoff::test
