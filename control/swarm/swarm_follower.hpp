#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "containers/docker_swarm.hpp"
#include "control/base/background_thread.hpp"
#include "control/base/operation_runner.hpp"
#include "control/registry/service_registry.hpp"
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
/// timeout. It looks every `interval`, and at once when asked (`sync`).
class SwarmFollower {
 public:
  /// How often the swarm is looked at.
  static constexpr std::chrono::milliseconds kInterval{200};

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
  void follow(const SwarmRecord& record, const std::vector<containers::SwarmNode>& nodes,
              containers::DockerSwarm& swarm);
  void ensure_service(const SwarmRecord& record);
  void switch_to(const SwarmRecord& record, std::vector<std::string> addresses);

  ServiceRegistry& registry_;
  proxy::Server& server_;
  SwarmEngineFactory engines_;
  std::mutex sync_mutex_;  // one look at a time: the loop's and a deploy's
  std::unique_ptr<containers::DockerEngine> engine_;  // guarded by sync_mutex_
  std::map<std::string, std::string> followed_;       // service -> what it serves now, for the log
  OperationRunner drains_;
  BackgroundThread thread_;  // last: stopped before the members above go
};

}  // namespace handoff::control
