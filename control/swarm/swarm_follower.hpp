#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "containers/docker_swarm.hpp"
#include "control/base/background_thread.hpp"
#include "control/base/operation_runner.hpp"
#include "control/registry/service_registry.hpp"
#include "control/swarm/swarm_members.hpp"
#include "control/swarm/swarm_record.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

/// Makes a client of the swarm's manager engine (DOCKER_HOST or the local socket).
using SwarmEngineFactory = std::function<std::unique_ptr<containers::DockerEngine>()>;

/// What `handoff run --swarm` does on every node: it keeps the registry where the swarm's
/// records say (see SwarmRecord). For each record, the service exists with the record's hosts
/// and serves the running tasks of the version the record names; a change (a deploy's new
/// version, a task that starts or is leaving) is one switch, made by this node's registry with
/// its atomic store, and the members that left drain on their own thread for the record's drain
/// timeout. The tasks of a version a record newly names were gated by the deploy that wrote it;
/// a task that starts later (Swarm replaced one, a scale-up) joins once it answers its health
/// path. It looks every `kInterval`, and at once when asked (`sync`).
class SwarmFollower {
 public:
  /// How often the swarm is looked at.
  static constexpr std::chrono::milliseconds kInterval{200};
  /// How long a task that joins later has to answer its probe.
  static constexpr std::chrono::milliseconds kProbeTimeout{1000};

  SwarmFollower(ServiceRegistry& registry, proxy::Server& server, SwarmEngineFactory engines);
  ~SwarmFollower();
  SwarmFollower(const SwarmFollower&) = delete;
  SwarmFollower& operator=(const SwarmFollower&) = delete;

  /// Starts looking every interval (make the first look with `sync`, which says whether
  /// there is a swarm to follow at all).
  void start();
  /// Stops following; drains under way are asked to end.
  void stop();
  /// Looks at the swarm now and follows what changed; thread-safe. Throws
  /// containers::EngineError when the swarm cannot be read.
  void sync();

 private:
  // What this node serves of a service: the version, and the tasks admitted to its set.
  struct Followed {
    std::string serving;
    std::set<std::string> admitted;
  };

  void follow(const SwarmRecord& record, const std::vector<containers::SwarmNode>& nodes,
              containers::DockerSwarm& swarm);
  std::vector<std::string> admitted_addresses(const SwarmRecord& record,
                                              const std::vector<TaskAddress>& tasks);
  void ensure_service(const SwarmRecord& record);
  void switch_to(const SwarmRecord& record, std::vector<std::string> addresses);

  ServiceRegistry& registry_;
  proxy::Server& server_;
  SwarmEngineFactory engines_;
  std::mutex sync_mutex_;  // one look at a time: the loop's and a deploy's
  std::unique_ptr<containers::DockerEngine> engine_;  // guarded by sync_mutex_
  std::map<std::string, std::string> problems_;       // by service: said once, until it clears
  std::map<std::string, Followed> followed_;          // by service; guarded by sync_mutex_
  OperationRunner drains_;
  BackgroundThread thread_;  // last: stopped before the members above go
};

}  // namespace handoff::control
