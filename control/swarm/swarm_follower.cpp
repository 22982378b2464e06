#include "control/swarm/swarm_follower.hpp"

#include <fmt/format.h>

#include "control/base/domain_error.hpp"
#include "control/health/health_check.hpp"
#include "control/swarm/swarm_members.hpp"

namespace handoff::control {

SwarmFollower::SwarmFollower(ServiceRegistry& registry, proxy::Server& server,
                             SwarmEngineFactory engines)
    : registry_(registry), server_(server), engines_(std::move(engines)) {}

SwarmFollower::~SwarmFollower() {
  stop();
}

void SwarmFollower::start() {
  thread_.start([this](const std::stop_token& stop) {
    std::string last_problem;
    while (!wait_unless_stopped(stop, std::chrono::steady_clock::now() + kInterval)) {
      try {
        sync();
        last_problem.clear();
      } catch (const std::exception& e) {
        if (e.what() != last_problem) {  // said once, not every interval
          fmt::print(stderr, "handoff: swarm: cannot follow the swarm: {}\n", e.what());
          last_problem = e.what();
        }
      }
    }
  });
}

void SwarmFollower::stop() {
  thread_.stop();
  drains_.request_stop();
}

void SwarmFollower::sync() {
  std::lock_guard lock(sync_mutex_);
  if (!engine_) {
    engine_ = engines_();
  }
  containers::DockerSwarm swarm(*engine_);
  const std::vector<containers::SwarmNode> nodes = swarm.nodes();
  for (const auto& [name, record] : read_records(swarm)) {
    try {
      follow(record, nodes, swarm);
      problems_.erase(name);
    } catch (const DomainError& e) {
      // One service this node cannot follow (say, its host is another's here) holds up no other.
      if (problems_[name] != e.what()) {
        fmt::print(stderr, "handoff: swarm: cannot follow service {}: {}\n", name, e.what());
        problems_[name] = e.what();
      }
    }
  }
}

void SwarmFollower::follow(const SwarmRecord& record,
                           const std::vector<containers::SwarmNode>& nodes,
                           containers::DockerSwarm& swarm) {
  ensure_service(record);
  std::vector<std::string> addresses;
  if (record.serving && !record.serving->empty()) {
    addresses = admitted_addresses(record, serving_tasks(swarm.tasks(*record.serving), nodes,
                                                         version_port(record.task_port.value_or(""),
                                                                      record.version.value_or(0))));
  }
  if (addresses == addresses_of(registry_.view(record.service).service->upstreams())) {
    return;
  }
  if (addresses.empty() && record.serving && followed_[record.service].serving == *record.serving) {
    // Every task of the version that serves is gone or leaving: the members stay (ejected as
    // they fail) rather than leave the service with nothing to try.
    return;
  }
  switch_to(record, std::move(addresses));
}

std::vector<std::string> SwarmFollower::admitted_addresses(const SwarmRecord& record,
                                                           const std::vector<TaskAddress>& tasks) {
  Followed& followed = followed_[record.service];
  const bool new_version = followed.serving != record.serving.value_or("");
  std::set<std::string> admitted;
  std::vector<std::string> addresses;
  HealthCheckOptions probe;
  probe.path = record.health_path.value_or("/up");
  for (const TaskAddress& t : tasks) {
    const bool known = new_version || followed.admitted.count(t.task) != 0;
    if (known || (probe_http(t.address, probe, kProbeTimeout).status / 100 == 2)) {
      admitted.insert(t.task);
      addresses.push_back(t.address);
    }
  }
  followed.admitted = std::move(admitted);
  return addresses;
}

void SwarmFollower::ensure_service(const SwarmRecord& record) {
  const std::vector<std::string> hosts = record.hosts.value_or(std::vector<std::string>{});
  if (!registry_.exists(record.service)) {
    registry_.add(record.service, hosts, "");
  } else if (!registry_.has_hosts(record.service, hosts)) {
    registry_.update(record.service, ServiceChange{.hosts = hosts});
  }
}

void SwarmFollower::switch_to(const SwarmRecord& record, std::vector<std::string> addresses) {
  Switched done;
  try {
    // Held for the switch only: the members that left drain without it, so the next change
    // (a task that starts or leaves) is followed at once.
    ServiceClaim claim = registry_.claim(record.service);
    done = claim.switch_to({addresses}, {}, {});
  } catch (const DomainError&) {
    return;  // a workflow of this node holds it: the next look tries again
  }
  const std::string serving = record.serving.value_or("");
  fmt::print(stderr, "handoff: swarm: service {} is served by {} ({}) (record {})\n",
             record.service, serving.empty() ? "nothing" : serving,
             done.to.empty() ? "no task" : done.to, record.generation.value_or(0));
  followed_[record.service].serving = serving;
  const auto timeout = std::chrono::milliseconds(record.drain_timeout_ms.value_or(30'000));
  if (done.retired.empty()) {
    return;
  }
  drains_.run([this, service = record.service, retired = done.retired,
               timeout](const std::stop_token& /*stop*/) {
    const proxy::DrainResult drained = server_.drain(retired, timeout);
    registry_.end_drain(service, retired, drained.took);
  });
}

}  // namespace handoff::control
