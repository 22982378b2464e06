#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/health/health_monitor.hpp"
#include "control/registry/member_sets.hpp"
#include "control/registry/registry_state.hpp"
#include "control/registry/service_claim.hpp"
#include "control/registry/service_record.hpp"
#include "control/registry/service_tls.hpp"
#include "control/registry/state_store.hpp"
#include "proxy/address.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

/// A service that wants an automatic certificate, as the ACME manager sees it.
struct AcmeTarget {
  std::string service;
  std::vector<std::string> hosts;
  std::shared_ptr<const proxy::Certificate> certificate;  ///< the current one; may be null
  bool issued_by_acme = false;  ///< the current one came from ACME (else: order one now)
};

/// A canary as the registry holds it: the set beside the serving one and how it is judged.
struct CanaryView {
  std::string service;
  std::shared_ptr<const proxy::UpstreamSet> set;
  std::vector<ContainerRef> containers;  ///< its members' containers (none: plain upstreams)
  std::uint32_t share = 0;               ///< of proxy::kCanaryBuckets
  CanaryPolicy policy;
  std::int64_t started_unix_ms = 0;
};

/// A copy of what the registry holds of one service, taken under one lock: what callers read
/// of a service (its data-plane Service, routes, containers and history, canary).
struct ServiceView {
  std::string name;
  std::shared_ptr<proxy::Service> service;
  RouteSettings route;
  ServingHistory serving;
  std::optional<CanaryView> canary;  ///< empty when none runs
  std::string upstream;  ///< the addresses new requests go to, comma-separated ("" when none)

  /// The first member's container (empty id when none): the one `logs` shows.
  [[nodiscard]] ContainerRef first_container() const {
    return serving.containers.empty() ? ContainerRef{} : serving.containers.front();
  }
  /// The generation the next switch gives the service.
  [[nodiscard]] std::uint64_t next_generation() const { return serving.generation + 1; }
};

/// A change to a service's settings: what is not set stays as it is.
struct ServiceChange {
  std::optional<std::vector<std::string>> hosts = {};
  std::optional<bool> strip_prefix = {};
  TlsChange tls = {};
  std::optional<std::size_t> max_conns = {};  ///< its own --max-conns-per-member (0: none)
};

/// The control plane's record of every service: its hosts, its upstream history, the workflow
/// running on it, and what is still draining. It owns the route table the data plane reads and
/// saves the state after every change. Thread-safe; never held while the data plane waits.
///
/// Two locks: changes take `change_mutex_` for their whole length, one at a time (so the saved
/// states follow one another in the order the changes were made), and the records' `mutex_`
/// only while they read or change records. Upstream addresses are resolved before either is
/// taken and the state file is written with `mutex_` released, so status, metrics and the
/// monitors never wait for a resolver or a disk. While a change is being saved, readers may
/// see it; when it cannot be saved, it is undone before the next change starts.
class ServiceRegistry {
 public:
  /// `store` receives the state after every change; `resolve` looks up upstream addresses.
  ServiceRegistry(proxy::Server& server, const StateStore& store,
                  Resolver resolve = proxy::resolve_address);

  /// The certificate for TLS names no service's certificate covers (--tls-default-cert); set
  /// before `restore`.
  void set_default_certificate(std::shared_ptr<const proxy::Certificate> certificate);

  /// Rebuilds services from saved state. Throws std::runtime_error for a bad entry.
  void restore(const ProxyState& state);

  /// Adds a service (`upstream` may be empty: 503 until the first swap or deploy); throws
  /// DomainError (400 bad field, 409 name or host taken).
  void add(const std::string& name, std::vector<std::string> hosts, const std::string& upstream,
           bool strip_prefix = false, const TlsChange& tls = {},
           std::optional<std::size_t> max_conns = {});
  /// Changes a service's hosts, prefix stripping and HTTPS settings with one atomic store of
  /// the route table and one of the certificate store: no request goes unrouted and no
  /// handshake finds no certificate in between. Throws DomainError (404, 400 bad host, 409 host
  /// taken).
  void update(const std::string& name, ServiceChange change);
  /// Whether services may ask for automatic certificates (handoff runs with an ACME
  /// directory); when not, `tls: acme` is refused with a 400.
  void set_acme_available(bool available);
  /// The services whose certificate comes from ACME.
  [[nodiscard]] std::vector<AcmeTarget> acme_targets() const;
  /// Installs an issued certificate with one atomic store of the certificate store, if the
  /// service still wants one from ACME; saves it. False when it does not (any more).
  bool install_certificate(const std::string& name,
                           std::shared_ptr<const proxy::Certificate> certificate);
  /// Records where the service's automatic certificate stands, for status.
  void set_acme_state(const std::string& name, AcmeState state);
  /// What may be wrong with the service's given certificate, for the user to hear: no HTTPS
  /// listener presents it, or hosts it does not cover. Empty when nothing is.
  [[nodiscard]] std::vector<std::string> certificate_warnings(const std::string& name) const;
  /// Whether the service answers exactly these hosts (in any order, case ignored).
  [[nodiscard]] bool has_hosts(const std::string& name, std::vector<std::string> hosts) const;
  /// Whether a service of this name exists.
  [[nodiscard]] bool exists(const std::string& name) const;
  /// Removes a service; its requests in flight finish. Throws DomainError (404, 409 busy).
  void remove(const std::string& name);

  /// A copy of what the registry holds of the service, taken at once. Throws DomainError 404.
  [[nodiscard]] ServiceView view(const std::string& name) const;

  /// Claims the service for a workflow (see ServiceClaim). Throws DomainError 404 (unknown) or
  /// 409 (another workflow is running, or handoff is handing over to a successor).
  [[nodiscard]] ServiceClaim claim(const std::string& name);

  /// Changes the share of clients the canary takes. Throws DomainError (404, 409 none runs).
  void set_canary_share(const std::string& name, std::uint32_t share);
  /// The service's canary. Throws DomainError (404, 409 `no_canary` when none runs).
  [[nodiscard]] CanaryView running_canary(const std::string& name) const;
  /// Every running canary, for the canary monitor.
  [[nodiscard]] std::vector<CanaryView> canaries() const;
  /// Throws DomainError 409 when a canary runs on the service: a swap, deploy or scale would
  /// change the serving set under it.
  void refuse_while_canary(const std::string& name) const;

  /// Every service's serving set and how it is watched, for the health monitor.
  [[nodiscard]] std::vector<WatchedSet> watched() const;
  /// The services handoff ever created a container for (a number was reserved).
  [[nodiscard]] std::vector<std::string> container_services() const;
  /// Every service whose upstreams are containers handoff deployed, with those containers.
  [[nodiscard]] std::vector<std::pair<std::string, std::vector<ContainerRef>>> deployed() const;
  /// The serving member that runs in container `id` is left out of balancing (its container
  /// stopped running); returns the member, "SERVICE member ADDRESS (CONTAINER)", or nothing
  /// when no serving member runs there.
  std::optional<std::string> eject_container(const std::string& id);
  /// Records what the engine says of the current containers after a restart ("" when fine).
  void set_container_problem(const std::string& name, const std::string& problem);
  /// Holds new requests to the service (see proxy::Service::pause). Throws DomainError 404.
  void pause(const std::string& name, std::chrono::milliseconds max_pause,
             proxy::PauseNotice notice = {});
  /// Releases held requests. Throws DomainError 404.
  void resume(const std::string& name);

  /// For an upgrade: waits up to `wait` until no workflow runs, then refuses every change
  /// (409 `upgrading`) and returns the state to hand to the successor. Empty when a workflow
  /// still runs after `wait` (or the registry is already frozen).
  std::optional<ProxyState> freeze(std::chrono::milliseconds wait);
  /// Accepts changes again (the successor did not take over).
  void thaw();
  /// The services a workflow runs on, quoted and comma-separated ("" when none).
  [[nodiscard]] std::string busy_services() const;

  /// Books the end of a drain of the service's `members` (they leave its draining list). A
  /// workflow's drain is booked through its claim; a drain that outlives the switch's claim
  /// (the swarm follower's) is booked here.
  void end_drain(const std::string& name,
                 const std::vector<std::shared_ptr<proxy::Upstream>>& members,
                 std::chrono::milliseconds took);

  /// Everything `handoff status` shows.
  [[nodiscard]] boost::json::object status() const;
  /// Prometheus text exposition of the counters.
  [[nodiscard]] std::string metrics() const;

 private:
  using Record = ServiceRecord;

  friend class ServiceClaim;  // the workflow's side: its switches, by the claimed name
  void release(const std::string& name);
  Switched switch_to(const std::string& name, const NextSet& next, const SwitchSettings& settings,
                     const std::function<void()>& on_switched);
  Switched resize(const std::string& name, const std::vector<std::size_t>& keep,
                  const NextSet& add);
  void start_canary(const std::string& name, const NextSet& canary, std::uint32_t share,
                    const CanaryPolicy& policy, const SavedDeploySpec& spec);
  Switched promote_canary(const std::string& name);
  Switched drop_canary(const std::string& name, std::vector<ContainerRef>& containers);
  std::uint64_t reserve_container_number(const std::string& name);
  void forget_containers(const std::string& name, const std::vector<std::string>& ids);
  // The canary beside `r`'s serving set; empty when none runs.
  static std::optional<CanaryView> canary_of(const std::string& name, const Record& r);
  // The serving addresses of `r`, comma-separated ("" when none).
  static std::string serving_addresses(const Record& r);

  // One change: the change lock for its length, the records' lock except while saving.
  struct ChangeLock {
    explicit ChangeLock(const ServiceRegistry& registry)
        : changing(registry.change_mutex_), records(registry.mutex_) {}
    std::unique_lock<std::mutex> changing;
    std::unique_lock<std::mutex> records;
  };

  Record& find(const std::string& name);
  [[nodiscard]] const Record& find(const std::string& name) const;
  void check_hosts(const std::string& name, const std::vector<std::string>& hosts) const;
  void check_acme(const TlsChange& change) const;
  // Installs a route table and a certificate store built from records_.
  void publish();
  void publish_certificates();
  // Gives the members of `set` the service's own connection cap, when it has one (members are
  // made with the run's).
  void apply_cap(const Record& r, const std::shared_ptr<const proxy::UpstreamSet>& set) const;
  // Records in `r` a switch to the set of `containers`: generation, previous set, history.
  static void record_switch(Record& r, const std::vector<ContainerRef>& containers);
  // Saves the state built from records_, warning when it cannot: for changes the proxy makes on
  // its own (a restore, an ACME renewal, a canary's verdict), which no client waits to hear of.
  void persist(ChangeLock& lock);
  // Saves the state a change made (or, with `pending`, is about to make), or undoes it: `undo`
  // puts records_ and the live service back as they were, and the refusal (not_saved) names the
  // OS's reason. A change a client asked for is acknowledged only once it is durable.
  // The records' lock is released while the state is written and held again on return.
  void save_or_undo(ChangeLock& lock, const std::function<void()>& undo,
                    const PendingSwitch* pending = nullptr);
  void check_not_frozen() const;  // throws DomainError 409 when frozen

  proxy::Server& server_;
  const StateStore& store_;
  const Resolver resolve_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  mutable std::mutex change_mutex_;   // one change at a time; held while the state is saved
  mutable std::mutex mutex_;          // the records; never held across a lookup or a save
  std::condition_variable released_;  // a workflow released its service (see freeze)
  std::set<std::string> claimed_;     // the services a workflow runs on (see claim)
  bool frozen_ = false;               // handed over to a successor: no more changes
  ServiceRecords records_;
  std::shared_ptr<const proxy::Certificate> default_certificate_;
  bool acme_available_ = false;
};

}  // namespace handoff::control
