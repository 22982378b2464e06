#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "containers/docker_swarm.hpp"

namespace handoff::control {

/// What the swarm says of one of handoff's services: its hosts, which Swarm service (one per
/// version) serves it, the port its tasks listen on, and how long nodes drain the version that
/// leaves. Every node's handoff follows it; a deploy, a rollback or a scale writes the next one.
///
/// It is kept in the swarm's own replicated store, as Swarm configs named `handoff-NAME-GEN`
/// (labels `handoff.record=NAME`, `handoff.generation=GEN`). A config is written once: the one
/// with the highest generation is the record, and two writers of the same generation cannot
/// both succeed (the second gets 409), so two deploys at once never both win.
struct SwarmRecord {
  std::string service;
  std::optional<std::int64_t> generation = {};
  std::optional<std::vector<std::string>> hosts = {};
  std::optional<std::string> serving = {};    ///< the Swarm service of the serving version
  std::optional<std::int64_t> version = {};   ///< its handoff.version
  std::optional<std::string> task_port = {};  ///< e.g. "190{{.Task.Slot}}"
  std::optional<std::int64_t> drain_timeout_ms = {};
  std::optional<std::string> health_path = {};  ///< a task that joins later is probed there

  /// Visits each field (see wire_record.hpp).
  template <typename Self, typename Fields>
  static void fields(Self& self, Fields& f) {
    f("service", self.service);
    f("generation", self.generation);
    f("hosts", self.hosts);
    f("serving", self.serving);
    f("version", self.version);
    f("task_port", self.task_port);
    f("drain_timeout_ms", self.drain_timeout_ms);
    f("health_path", self.health_path);
  }
};

/// The label every record config carries, with the service's name as its value.
inline constexpr std::string_view kRecordLabel = "handoff.record";

/// The newest record of every service. A config that cannot be read is left out, with a
/// warning on stderr (a newer handoff may write more; a damaged one names itself).
std::map<std::string, SwarmRecord> read_records(containers::DockerSwarm& swarm);

/// The highest version any of the service's kept records names (0: none): a version above it
/// was never recorded (its deploy failed or was cut short).
std::int64_t newest_recorded_version(containers::DockerSwarm& swarm, const std::string& service);

/// Writes `record` as the service's next record (its generation must be one past the newest).
/// Throws DomainError 409 when another handoff wrote that generation first.
void write_record(containers::DockerSwarm& swarm, const SwarmRecord& record);

/// Removes the service's records older than its newest `keep` (a failure is a warning).
void prune_records(containers::DockerSwarm& swarm, const std::string& service, int keep);

}  // namespace handoff::control
