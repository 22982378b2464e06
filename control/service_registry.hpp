#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "control/health_monitor.hpp"
#include "control/member_sets.hpp"
#include "control/service_tls.hpp"
#include "control/state_store.hpp"
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

/// What a switch records beside its new set, saved with it: how the serving members are checked
/// from now on, and how the service's containers are made (its last deploy; a rollback changes
/// the image), for `scale`. What is not set stays as it is.
struct SwitchSettings {
  std::optional<HealthWatch> watch = {};
  std::optional<SavedDeploySpec> spec = {};
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
class ServiceRegistry {
 public:
  /// `store` receives the state after every change.
  ServiceRegistry(proxy::Server& server, const StateStore& store);

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
  /// The service's HTTPS settings. Throws DomainError 404.
  [[nodiscard]] ServiceTls tls(const std::string& name) const;
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

  /// Marks a workflow as running on the service until the returned guard is destroyed.
  /// Throws DomainError 404 (unknown) or 409 (another workflow is running).
  [[nodiscard]] std::shared_ptr<void> claim(const std::string& name);

  /// Swaps the service to a new upstream set, one member per address in `addresses`
  /// (validated and resolved before the switch), running in `containers` (one per address, or
  /// none when they are not containers handoff deployed), with the `settings` that come with
  /// it. The state is saved before the store: when it cannot be, nothing changes (DomainError
  /// not_saved). Returns the members the swap retired and sets `switch_time` to the time the
  /// store took. `on_switched` runs right after the store.
  std::vector<std::shared_ptr<proxy::Upstream>> swap(
      const std::string& name, const std::vector<std::string>& addresses,
      std::chrono::nanoseconds& switch_time, const std::vector<ContainerRef>& containers = {},
      const std::function<void()>& on_switched = {}, const SwitchSettings& settings = {});
  /// How the service's containers are made (image empty: never deployed). Throws 404.
  [[nodiscard]] SavedDeploySpec deploy_spec(const std::string& name) const;
  /// Resizes the serving set without a new version: keeps the members at the indexes `keep`
  /// (the same members, with their requests and connections) and their containers, adds one
  /// member per address in `add`, running in `add_containers`, with one atomic store. Returns
  /// the members it dropped, retired; their containers are forgotten (not kept for rollback).
  std::vector<std::shared_ptr<proxy::Upstream>> resize(
      const std::string& name, const std::vector<std::size_t>& keep,
      const std::vector<std::string>& add, const std::vector<ContainerRef>& add_containers);
  /// Runs `addresses` (in `containers`, one per address, or none) as the service's canary
  /// beside the serving set, taking `share` of the clients and judged by `policy`; `spec` is
  /// how its containers were made (it becomes the service's on promotion). Throws DomainError
  /// (404, 400 bad address, 409 a canary runs already).
  void start_canary(const std::string& name, const std::vector<std::string>& addresses,
                    const std::vector<ContainerRef>& containers, std::uint32_t share,
                    const CanaryPolicy& policy, const SavedDeploySpec& spec = {});
  /// Changes the share of clients the canary takes. Throws DomainError (404, 409 none runs).
  void set_canary_share(const std::string& name, std::uint32_t share);
  /// The service's canary; empty when none runs. Throws DomainError 404.
  [[nodiscard]] std::optional<CanaryView> canary(const std::string& name) const;
  /// The service's canary. Throws DomainError (404, 409 `no_canary` when none runs).
  [[nodiscard]] CanaryView running_canary(const std::string& name) const;
  /// Every running canary, for the canary monitor.
  [[nodiscard]] std::vector<CanaryView> canaries() const;
  /// Throws DomainError 409 when a canary runs on the service: a swap, deploy or scale would
  /// change the serving set under it.
  void refuse_while_canary(const std::string& name) const;
  /// Makes the canary the serving set with one bump the data plane sees; the containers that
  /// served become the newest set of the history, their addresses the previous upstream. Returns
  /// the members that served, retired, and sets `switch_time`. Throws DomainError 409 when no
  /// canary runs.
  std::vector<std::shared_ptr<proxy::Upstream>> promote_canary(
      const std::string& name, std::chrono::nanoseconds& switch_time);
  /// Ends the canary: its members are retired and returned, its containers (to remove) put in
  /// `containers`. The serving set is untouched. Throws DomainError 409 when none runs.
  std::vector<std::shared_ptr<proxy::Upstream>> drop_canary(const std::string& name,
                                                            std::vector<ContainerRef>& containers);

  /// Every service's serving set and how it is watched, for the health monitor.
  [[nodiscard]] std::vector<WatchedSet> watched() const;
  /// The generation the next swap will give the service.
  [[nodiscard]] std::uint64_t next_generation(const std::string& name) const;
  /// Reserves the number of the service's next container and saves it before returning, so
  /// that no name is used twice, even when handoff dies before the container serves.
  std::uint64_t reserve_container_number(const std::string& name);
  /// The sets of containers that served the service before its current one, most recently
  /// served first.
  [[nodiscard]] std::vector<std::vector<ContainerRef>> history(const std::string& name) const;
  /// Forgets containers that were removed (kept for rollback no more).
  void forget_containers(const std::string& name, const std::vector<std::string>& ids);
  /// The services handoff ever created a container for (a number was reserved).
  [[nodiscard]] std::vector<std::string> container_services() const;
  /// The containers the service's members run in, in member order (none when its upstreams
  /// are not containers handoff deployed).
  [[nodiscard]] std::vector<ContainerRef> containers(const std::string& name) const;
  /// The first member's container (empty id when none): the one `logs` shows.
  [[nodiscard]] ContainerRef container(const std::string& name) const;
  /// Every service whose upstreams are containers handoff deployed, with those containers.
  [[nodiscard]] std::vector<std::pair<std::string, std::vector<ContainerRef>>> deployed() const;
  /// The serving member that runs in container `id` is left out of balancing (its container
  /// stopped running); returns the member, "SERVICE member ADDRESS (CONTAINER)", or nothing
  /// when no serving member runs there.
  std::optional<std::string> eject_container(const std::string& id);
  /// Records what the engine says of the current containers after a restart ("" when fine).
  void set_container_problem(const std::string& name, const std::string& problem);
  /// The upstream set before the last swap (empty when none), for rollback.
  [[nodiscard]] std::vector<std::string> previous_upstream(const std::string& name) const;
  /// The data plane's service of this name. Throws DomainError 404.
  [[nodiscard]] std::shared_ptr<proxy::Service> service(const std::string& name) const;
  /// The addresses new requests go to, comma-separated ("" when none).
  [[nodiscard]] std::string current_upstream(const std::string& name) const;

  /// Lists retired members as draining for status, and records the drain when it is done.
  void begin_drain(const std::string& name,
                   const std::vector<std::shared_ptr<proxy::Upstream>>& members);
  /// Records a finished drain of `members`.
  void end_drain(const std::string& name,
                 const std::vector<std::shared_ptr<proxy::Upstream>>& members,
                 std::chrono::milliseconds took);

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

  /// Everything `handoff status` shows.
  [[nodiscard]] boost::json::object status() const;
  /// Prometheus text exposition of the counters.
  [[nodiscard]] std::string metrics() const;

 private:
  struct Record {
    std::shared_ptr<proxy::Service> service;
    std::vector<std::string> hosts;
    bool strip_prefix = false;             // a matched path prefix is removed before forwarding
    std::optional<std::size_t> max_conns;  // its own cap on each member's connections
    ServiceTls tls;
    std::vector<std::string> previous;  // the set before the last swap, for rollback
    HealthWatch watch;                  // active checks on the serving members
    SavedDeploySpec deploy;             // how its containers are made, for scale
    std::uint64_t generation = 1;
    bool busy = false;
    std::vector<ContainerRef> containers;            // of the serving members, in member order
    std::vector<ContainerRef> canary_containers;     // of the canary's members, in member order
    CanaryPolicy canary_policy;                      // how the running canary is judged
    SavedDeploySpec canary_deploy;                   // how its containers were made
    std::int64_t canary_started = 0;                 // unix milliseconds
    std::vector<std::vector<ContainerRef>> history;  // sets served before, most recent first
    std::uint64_t next_container = 0;  // see reserve_container_number; 0: none reserved yet
    std::string container_problem;     // e.g. "missing", found when restoring
    std::vector<std::shared_ptr<proxy::Upstream>> draining;
    std::uint64_t swaps = 0;
    double swap_seconds = 0;  // sum over swaps
    std::uint64_t drains = 0;
    double drain_seconds = 0;  // sum over drains
  };

  Record& find(const std::string& name);
  [[nodiscard]] const Record& find(const std::string& name) const;
  void check_hosts(const std::string& name, const std::vector<std::string>& hosts) const;
  void check_acme(const TlsChange& change) const;
  /// The set a switch is about to install on one service, saved before the switch is made;
  /// `ends_canary`: the switch also ends the service's canary (a promotion or a rollback).
  struct PendingSwitch {
    const std::string& service;
    std::vector<std::string> addresses;
    bool ends_canary = false;
  };
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
  void persist();
  // Saves the state a change made (or, with `pending`, is about to make), or undoes it: `undo`
  // puts records_ and the live service back as they were, and the refusal (not_saved) names the
  // OS's reason. A change a client asked for is acknowledged only once it is durable.
  void save_or_undo(const std::function<void()>& undo, const PendingSwitch* pending = nullptr);
  // The state built from records_; with `pending`, that service's set is the pending one.
  [[nodiscard]] ProxyState snapshot(const PendingSwitch* pending = nullptr) const;
  static std::optional<SavedCanary> saved_canary(const Record& r);  // none when none runs
  void check_not_frozen() const;  // throws DomainError 409 when frozen
  // The metric families, with the mutex held.
  void append_request_metrics(std::string& out) const;
  void append_upstream_metrics(std::string& out) const;
  void append_member_metrics(std::string& out) const;
  void append_canary_metrics(std::string& out) const;
  void append_queue_metrics(std::string& out) const;
  void append_workflow_metrics(std::string& out) const;

  proxy::Server& server_;
  const StateStore& store_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  mutable std::mutex mutex_;
  std::condition_variable released_;  // a workflow released its service (see freeze)
  bool frozen_ = false;               // handed over to a successor: no more changes
  std::map<std::string, Record> records_;
  std::shared_ptr<const proxy::Certificate> default_certificate_;
  bool acme_available_ = false;
};

}  // namespace handoff::control
