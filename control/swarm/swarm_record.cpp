#include "control/swarm/swarm_record.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "control/base/domain_error.hpp"
#include "control/protocol/wire_record.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

// The generation a record config's label gives (0 when it gives none).
std::int64_t generation_of(const containers::SwarmConfig& config) {
  const auto it = config.labels.find("handoff.generation");
  if (it == config.labels.end()) {
    return 0;
  }
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return 0;
  }
}

// The record a config holds; empty (and said on stderr) when it cannot be read.
std::optional<SwarmRecord> record_in(const containers::SwarmConfig& config) {
  boost::system::error_code ec;
  const json::value v = json::parse(config.data, ec);
  try {
    if (ec || !v.is_object()) {
      throw WireError("it is not a JSON object");
    }
    return from_wire<SwarmRecord>(v.as_object());
  } catch (const WireError& e) {
    fmt::print(stderr, "handoff: warning: swarm config {} is not a record handoff can read: {}\n",
               config.name, e.what());
    return std::nullopt;
  }
}

}  // namespace

std::map<std::string, SwarmRecord> read_records(containers::DockerSwarm& swarm) {
  std::map<std::string, std::pair<std::int64_t, containers::SwarmConfig>> newest;
  for (containers::SwarmConfig& config : swarm.configs(std::string(kRecordLabel))) {
    const std::string service = config.labels[std::string(kRecordLabel)];
    const std::int64_t generation = generation_of(config);
    auto it = newest.find(service);
    if (it == newest.end() || it->second.first < generation) {
      newest[service] = {generation, std::move(config)};
    }
  }
  std::map<std::string, SwarmRecord> out;
  for (const auto& [service, entry] : newest) {
    if (auto record = record_in(entry.second); record && record->service == service) {
      record->generation = entry.first;
      out.emplace(service, std::move(*record));
    }
  }
  return out;
}

std::int64_t newest_recorded_version(containers::DockerSwarm& swarm, const std::string& service) {
  std::int64_t newest = 0;
  for (const containers::SwarmConfig& config :
       swarm.configs(std::string(kRecordLabel) + "=" + service)) {
    if (const auto record = record_in(config)) {
      newest = std::max(newest, record->version.value_or(0));
    }
  }
  return newest;
}

void write_record(containers::DockerSwarm& swarm, const SwarmRecord& record) {
  const std::int64_t generation = record.generation.value_or(1);
  const std::string name = fmt::format("handoff-{}-{}", record.service, generation);
  try {
    swarm.create_config(name,
                        {{std::string(kRecordLabel), record.service},
                         {"handoff.generation", std::to_string(generation)}},
                        json::serialize(to_wire(record)));
  } catch (const containers::EngineError& e) {
    if (e.status() == 409) {
      throw DomainError(ErrorKind::conflict, "busy",
                        fmt::format("another handoff changed service '{}' at the same time "
                                    "(record {} exists); nothing was switched",
                                    record.service, generation));
    }
    throw;
  }
}

void prune_records(containers::DockerSwarm& swarm, const std::string& service, int keep) {
  try {
    std::vector<containers::SwarmConfig> records =
        swarm.configs(std::string(kRecordLabel) + "=" + service);
    std::sort(records.begin(), records.end(),
              [](const auto& a, const auto& b) { return generation_of(a) > generation_of(b); });
    for (std::size_t i = static_cast<std::size_t>(keep); i < records.size(); ++i) {
      swarm.remove_config(records[i].id);
    }
  } catch (const containers::EngineError& e) {
    fmt::print(stderr, "handoff: warning: old swarm records of '{}' stay: {}\n", service, e.what());
  }
}

}  // namespace handoff::control
