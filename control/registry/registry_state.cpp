#include "control/registry/registry_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace handoff::control {

namespace {

// A saved certificate is loaded even when it expired while handoff was down: the state must
// load again, and status shows the expiry.
ServiceTls restore_tls(const ServiceState& s) {
  ServiceTls tls;
  try {
    tls.source = parse_source(s.tls_source);
    if (!s.tls_cert.empty()) {
      tls.certificate = proxy::Certificate::parse(s.tls_cert, s.tls_key, false);
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(
        fmt::format("saved service '{}' has a bad certificate: {}", s.name, e.what()));
  }
  tls.issued_by_acme = s.tls_issued_by_acme;
  tls.redirect_https = s.redirect_https;
  tls.hsts_seconds =
      static_cast<std::uint32_t>(std::clamp<std::int64_t>(s.hsts_seconds, 0, UINT32_MAX));
  return tls;
}

// The running canary as saved; none when none runs.
std::optional<SavedCanary> saved_canary(const ServiceRecord& r) {
  const auto canary = r.service->canary();
  if (!canary) {
    return std::nullopt;
  }
  return SavedCanary{addresses_of(canary->set), saved_of(r.canary.containers), canary->share,
                     r.canary.policy,           r.canary.started_unix_ms,      r.canary.deploy};
}

}  // namespace

ProxyState saved_state(const ServiceRecords& records, const PendingSwitch* pending) {
  ProxyState state;
  for (const auto& [name, r] : records) {
    std::vector<std::vector<SavedContainer>> history;
    for (const auto& set : r.serving.earlier) {
      history.push_back(saved_of(set));
    }
    const auto notice = r.service->pause_notice();
    state.services.push_back(ServiceState{
        name,
        r.route.hosts,
        pending != nullptr && pending->service == name ? pending->addresses
                                                       : addresses_of(r.service->upstreams()),
        r.serving.previous,
        r.serving.generation,
        saved_of(r.serving.containers),
        std::move(history),
        r.serving.next_container,
        r.service->paused(),
        r.service->max_pause().count(),
        notice->message,
        notice->retry_after.count(),
        r.route.strip_prefix,
        std::string(source_name(r.route.tls.source)),
        r.route.tls.certificate ? r.route.tls.certificate->chain_pem() : "",
        r.route.tls.certificate ? r.route.tls.certificate->key_pem() : "",
        r.route.tls.issued_by_acme,
        r.route.tls.redirect_https,
        r.route.tls.hsts_seconds,
        r.watch.enabled,
        r.watch.path,
        r.watch.host,
        r.watch.interval.count(),
        r.watch.healthy_threshold,
        r.watch.unhealthy_threshold,
        r.serving.deploy,
        pending != nullptr && pending->service == name && pending->ends_canary ? std::nullopt
                                                                               : saved_canary(r),
        r.route.max_conns ? static_cast<std::int64_t>(*r.route.max_conns) : -1});
  }
  return state;
}

ServiceRecord restored_record(const ServiceState& s, const proxy::Server& server,
                              std::shared_ptr<const proxy::UpstreamSet> set) {
  ServiceRecord r;
  r.route.hosts = s.hosts;
  r.route.strip_prefix = s.strip_prefix;
  r.serving.previous = s.previous;
  r.serving.deploy = s.deploy;
  r.watch = HealthWatch{s.health_watch,
                        s.health_path,
                        s.health_host,
                        std::chrono::milliseconds(s.health_interval_ms),
                        static_cast<unsigned>(s.healthy_threshold),
                        static_cast<unsigned>(s.unhealthy_threshold)};
  r.serving.generation = s.generation;
  r.serving.containers = refs_of(s.containers);
  for (const std::vector<SavedContainer>& earlier : s.history) {
    r.serving.earlier.push_back(refs_of(earlier));
  }
  r.serving.next_container = s.next_container;
  r.route.tls = restore_tls(s);
  if (s.max_conns_per_member >= 0) {
    r.route.max_conns = static_cast<std::size_t>(s.max_conns_per_member);
  }
  r.service = std::make_shared<proxy::Service>(s.name, server.config().threads, set,
                                               server.config().balancing);
  // The last pause's settings are kept after a resume, and so after a restart too: the
  // state saved next must be the one loaded.
  r.service->pause(std::chrono::milliseconds(s.max_pause_ms),
                   {s.pause_message, std::chrono::seconds(s.retry_after_s)});
  if (!s.paused) {
    r.service->resume();  // before anyone can route to it: the route table is not out yet
  }
  if (s.canary) {
    r.canary.containers = refs_of(s.canary->containers);
    r.canary.policy = s.canary->policy;
    r.canary.started_unix_ms = s.canary->started_unix_ms;
    r.canary.deploy = s.canary->deploy;
  }
  return r;
}

}  // namespace handoff::control
