#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "containers/docker_engine.hpp"

namespace handoff::containers {

/// A node of the swarm, as the managers know it.
struct SwarmNode {
  std::string id;
  std::string address;       ///< Status.Addr: where its host-network tasks listen
  std::string state;         ///< ready, down, unknown, disconnected
  std::string availability;  ///< active, pause, drain
};

/// A Swarm service (handoff makes one per version of an app).
struct SwarmService {
  std::string id;
  std::string name;
  std::uint64_t version = 0;  ///< the object's version, for an update
  std::map<std::string, std::string> labels;
  std::string image;
  std::int64_t replicas = 0;
};

/// One task of a service: a slot, where it runs, and where it is going.
struct SwarmTask {
  std::string id;
  std::string service_id;
  std::int64_t slot = 0;
  std::string node_id;
  std::string state;          ///< Status.State: new ... running, complete, failed, shutdown...
  std::string desired_state;  ///< running, shutdown, remove
  std::string message;        ///< Status.Err or Status.Message, for a task that failed
};

/// What to run as a service: `replicas` tasks of `image` on the hosts' network.
struct SwarmServiceSpec {
  std::string name;
  std::string image;
  std::vector<std::string> env;  ///< KEY=VALUE; may use templates such as {{.Task.Slot}}
  std::map<std::string, std::string> labels;
  std::int64_t replicas = 1;
  std::chrono::seconds stop_grace{10};
};

/// A Swarm config: a small named blob the managers replicate.
struct SwarmConfig {
  std::string id;
  std::string name;
  std::map<std::string, std::string> labels;
  std::string data;
};

/// The Swarm part of the Docker Engine API (a manager node's engine): nodes, services, tasks
/// and configs. Every call blocks (control threads only) and throws EngineError.
class DockerSwarm {
 public:
  /// Speaks through `engine`'s connection.
  explicit DockerSwarm(DockerEngine& engine) : engine_(engine) {}

  /// Whether the engine is a manager of an active swarm (GET /info).
  [[nodiscard]] bool is_manager();
  /// The swarm's nodes.
  std::vector<SwarmNode> nodes();
  /// The services carrying `label` (KEY or KEY=VALUE).
  std::vector<SwarmService> services(const std::string& label);
  /// The tasks of the service named or numbered `service`.
  std::vector<SwarmTask> tasks(const std::string& service);
  /// Creates a service; returns its id. 409 when the name is taken.
  std::string create_service(const SwarmServiceSpec& spec);
  /// Sets the number of tasks of a replicated service.
  void scale_service(const std::string& id, std::int64_t replicas);
  /// Removes a service and its tasks (a missing one is fine).
  void remove_service(const std::string& id);
  /// The configs carrying `label` (KEY or KEY=VALUE), with their data.
  std::vector<SwarmConfig> configs(const std::string& label);
  /// Creates a config; returns its id. 409 when the name is taken: a config is written once.
  std::string create_config(const std::string& name,
                            const std::map<std::string, std::string>& labels,
                            const std::string& data);
  /// Removes a config (a missing one is fine).
  void remove_config(const std::string& id);

 private:
  DockerEngine& engine_;
};

}  // namespace handoff::containers
