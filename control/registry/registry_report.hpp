#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <set>
#include <string>

#include "control/registry/service_record.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

/// What `handoff status` and the metrics endpoint show of the services: a read-only view over
/// the registry's records, made while the registry holds its records' lock.
class RegistryReport {
 public:
  /// `claimed`: the services a workflow runs on; `started`: when handoff started.
  RegistryReport(const ServiceRecords& records, const std::set<std::string>& claimed,
                 const proxy::Server& server, std::chrono::steady_clock::time_point started)
      : records_(records), claimed_(claimed), server_(server), started_(started) {}

  /// Everything `handoff status` shows.
  [[nodiscard]] boost::json::object status() const;
  /// Prometheus text exposition of the counters.
  [[nodiscard]] std::string metrics() const;

 private:
  void append_request_metrics(std::string& out) const;
  void append_upstream_metrics(std::string& out) const;
  void append_member_metrics(std::string& out) const;
  void append_canary_metrics(std::string& out) const;
  void append_queue_metrics(std::string& out) const;
  void append_workflow_metrics(std::string& out) const;

  const ServiceRecords& records_;
  const std::set<std::string>& claimed_;
  const proxy::Server& server_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace handoff::control
