#include "control/registry/service_registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json.hpp>

#include "control/base/domain_error.hpp"
#include "control/protocol/service_name.hpp"
#include "control/registry/member_sets.hpp"
#include "control/registry/registry_report.hpp"
#include "control/registry/registry_state.hpp"
#include "proxy/address.hpp"
#include "proxy/upstream/upstream_set.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

// What puts a service's pause back as it is now: for a pause or resume the state cannot keep.
std::function<void()> pause_undo(proxy::Service& service) {
  return [&service, paused = service.paused(), notice = service.pause_notice(),
          max_pause = service.max_pause()] {
    if (paused) {
      service.pause(max_pause, *notice);
    } else {
      service.resume();
    }
  };
}

// A path prefix a service may claim: "/" and then path characters, no query or fragment.
bool valid_prefix(std::string_view prefix) {
  return !prefix.empty() && prefix.front() == '/' && prefix.size() <= 1024 &&
         std::all_of(prefix.begin(), prefix.end(),
                     [](unsigned char c) { return c > 0x20 && c < 0x7f && c != '?' && c != '#'; });
}

// A DNS name or a `*.` wildcard in front of one, optionally followed by a path prefix
// (`example.com/api`); or a path prefix alone (`/api`, on every host).
bool valid_route_entry(std::string_view entry) {
  const std::size_t slash = entry.find('/');
  if (slash != std::string_view::npos) {
    if (!valid_prefix(entry.substr(slash))) {
      return false;
    }
    if (slash == 0) {
      return true;
    }
    entry = entry.substr(0, slash);
  }
  std::string_view host = entry;
  if (host.rfind("*.", 0) == 0) {
    host.remove_prefix(2);
  }
  if (host.empty() || host.size() > 253) {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

// Lowercases the host part of an entry; a path prefix keeps its case (paths are
// case-sensitive).
std::string lower(std::string s) {
  const auto end = std::find(s.begin(), s.end(), '/');
  std::transform(s.begin(), end, s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

ServiceRegistry::ServiceRegistry(proxy::Server& server, const StateStore& store, Resolver resolve)
    : server_(server), store_(store), resolve_(std::move(resolve)) {}

ServiceRegistry::Record& ServiceRegistry::find(const std::string& name) {
  auto it = records_.find(name);
  if (it == records_.end()) {
    throw DomainError(
        ErrorKind::not_found, "unknown_service",
        fmt::format("no service named '{}' (add it with `handoff service add {}`)", name, name));
  }
  return it->second;
}

const ServiceRegistry::Record& ServiceRegistry::find(const std::string& name) const {
  return const_cast<ServiceRegistry*>(this)->find(name);
}

void ServiceRegistry::check_hosts(const std::string& name,
                                  const std::vector<std::string>& hosts) const {
  for (const std::string& h : hosts) {
    if (!valid_route_entry(h)) {
      throw DomainError(ErrorKind::invalid, "bad_host",
                        fmt::format("'{}' is not a host name or *.wildcard", h));
    }
    for (const auto& [other, record] : records_) {
      if (other != name && std::find(record.route.hosts.begin(), record.route.hosts.end(),
                                     lower(h)) != record.route.hosts.end()) {
        throw DomainError(ErrorKind::conflict, "host_taken",
                          fmt::format("host '{}' already routes to service '{}'", h, other));
      }
    }
  }
}

void ServiceRegistry::restore(const ProxyState& state) {
  std::vector<ResolvedAddresses> serving;  // looked up before any lock is taken
  std::vector<ResolvedAddresses> canaries;
  for (const ServiceState& s : state.services) {
    try {
      // A service added without an upstream is saved with an empty one: it answers 503 until
      // its first swap or deploy, after a restart as before it.
      serving.push_back(resolve_addresses(resolve_, s.upstreams));
      canaries.push_back(
          resolve_addresses(resolve_, s.canary ? s.canary->upstreams : std::vector<std::string>{}));
    } catch (const std::exception& e) {
      throw std::runtime_error(
          fmt::format("saved service '{}' has a bad upstream: {}", s.name, e.what()));
    }
  }
  ChangeLock lock(*this);
  for (std::size_t i = 0; i < state.services.size(); ++i) {
    const ServiceState& s = state.services[i];
    Record r = restored_record(s, server_, make_set(server_, serving[i], s.generation));
    apply_cap(r, r.service->upstreams());
    if (s.canary) {
      auto canary = make_set(server_, canaries[i], s.generation + 1);
      apply_cap(r, canary);
      r.service->set_canary(std::move(canary), s.canary->share);
    }
    records_[s.name] = std::move(r);
  }
  publish();
  persist(lock);
}

void ServiceRegistry::set_default_certificate(
    std::shared_ptr<const proxy::Certificate> certificate) {
  ChangeLock lock(*this);
  default_certificate_ = std::move(certificate);
  publish_certificates();
}

void ServiceRegistry::add(const std::string& name, std::vector<std::string> hosts,
                          const std::string& upstream, bool strip_prefix, const TlsChange& tls,
                          std::optional<std::size_t> max_conns) {
  if (std::string problem = service_name_problem(name); !problem.empty()) {
    throw DomainError(ErrorKind::invalid, "bad_name", problem);
  }
  for (auto& h : hosts) {
    h = lower(h);
  }
  // A service may start without an upstream: it answers 503 until its first swap or deploy.
  const ResolvedAddresses resolved = resolve_addresses(
      resolve_, upstream.empty() ? std::vector<std::string>{} : std::vector{upstream});
  ChangeLock lock(*this);
  check_not_frozen();
  auto set = make_set(server_, resolved, 1);
  if (records_.count(name) != 0) {
    throw DomainError(ErrorKind::conflict, "service_exists",
                      fmt::format("service '{}' already exists", name));
  }
  check_hosts(name, hosts);
  check_acme(tls);
  Record r;
  r.route.hosts = std::move(hosts);
  r.route.strip_prefix = strip_prefix;
  r.route.max_conns = max_conns;
  apply_cap(r, set);
  r.route.tls = tls.applied_to({});
  r.service = std::make_shared<proxy::Service>(name, server_.config().threads, set,
                                               server_.config().balancing);
  records_[name] = std::move(r);
  save_or_undo(lock, [&] { records_.erase(name); });
  publish();
}

void ServiceRegistry::update(const std::string& name, ServiceChange change) {
  if (change.hosts) {
    for (auto& h : *change.hosts) {
      h = lower(h);
    }
  }
  ChangeLock lock(*this);
  check_not_frozen();
  Record& r = find(name);
  check_acme(change.tls);  // every check before the first change: a refusal changes nothing
  const Record before = r;
  if (change.hosts) {
    check_hosts(name, *change.hosts);
    r.route.hosts = std::move(*change.hosts);
  }
  r.route.strip_prefix = change.strip_prefix.value_or(r.route.strip_prefix);
  r.route.tls = change.tls.applied_to(r.route.tls);
  if (change.max_conns) {
    r.route.max_conns = change.max_conns;
  }
  save_or_undo(lock, [&] { r = before; });
  if (change.max_conns) {  // the members serving now take it at once
    apply_cap(r, r.service->upstreams());
    if (const auto canary = r.service->canary()) {
      apply_cap(r, canary->set);
    }
  }
  publish();
}

void ServiceRegistry::apply_cap(const Record& r,
                                const std::shared_ptr<const proxy::UpstreamSet>& set) const {
  if (!r.route.max_conns || !set) {
    return;
  }
  for (const auto& member : set->members()) {
    member->connection_cap().configure(*r.route.max_conns, server_.config().max_queue_per_member);
  }
}

std::vector<std::string> ServiceRegistry::certificate_warnings(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const Record& r = find(name);
  std::vector<std::string> warnings;
  if (r.route.tls.source != CertificateSource::given || !r.route.tls.certificate) {
    return warnings;
  }
  if (server_.tls_endpoints().empty()) {
    warnings.push_back(
        "no HTTPS listener (run --listen-tls) presents the certificate: it is kept, unused");
  }
  for (const std::string& host : uncovered_hosts(*r.route.tls.certificate, r.route.hosts)) {
    warnings.push_back(fmt::format("the certificate does not cover {} (it is for {})", host,
                                   fmt::join(r.route.tls.certificate->names(), ", ")));
  }
  return warnings;
}

void ServiceRegistry::set_acme_available(bool available) {
  ChangeLock lock(*this);
  acme_available_ = available;
}

void ServiceRegistry::check_acme(const TlsChange& change) const {
  if (change.source == CertificateSource::acme && !acme_available_) {
    throw DomainError(ErrorKind::invalid, "acme_unavailable",
                      "automatic certificates need handoff run with --acme-directory and "
                      "--acme-email");
  }
}

std::vector<AcmeTarget> ServiceRegistry::acme_targets() const {
  std::lock_guard lock(mutex_);
  std::vector<AcmeTarget> out;
  for (const auto& [name, r] : records_) {
    if (r.route.tls.source == CertificateSource::acme) {
      out.push_back(
          AcmeTarget{name, r.route.hosts, r.route.tls.certificate, r.route.tls.issued_by_acme});
    }
  }
  return out;
}

bool ServiceRegistry::install_certificate(const std::string& name,
                                          std::shared_ptr<const proxy::Certificate> certificate) {
  ChangeLock lock(*this);
  auto it = records_.find(name);
  if (frozen_ || it == records_.end() || it->second.route.tls.source != CertificateSource::acme) {
    return false;  // frozen: the successor orders again
  }
  it->second.route.tls.certificate = std::move(certificate);
  it->second.route.tls.issued_by_acme = true;
  publish_certificates();
  persist(lock);
  return true;
}

void ServiceRegistry::set_acme_state(const std::string& name, AcmeState state) {
  ChangeLock lock(*this);
  if (auto it = records_.find(name); it != records_.end()) {
    it->second.route.tls.acme = std::move(state);
  }
}

bool ServiceRegistry::has_hosts(const std::string& name, std::vector<std::string> hosts) const {
  for (auto& h : hosts) {
    h = lower(h);
  }
  std::sort(hosts.begin(), hosts.end());
  std::lock_guard lock(mutex_);
  std::vector<std::string> current = find(name).route.hosts;
  std::sort(current.begin(), current.end());
  return current == hosts;
}

bool ServiceRegistry::exists(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return records_.count(name) != 0;
}

void ServiceRegistry::remove(const std::string& name) {
  ChangeLock lock(*this);
  check_not_frozen();
  find(name);
  if (claimed_.count(name) != 0) {
    throw DomainError(ErrorKind::conflict, "busy",
                      fmt::format("a workflow is running on service '{}'", name));
  }
  auto removed = records_.extract(name);
  save_or_undo(lock, [&] { records_.insert(std::move(removed)); });
  // Requests in flight hold their upstream; idle pooled connections to it are closed.
  server_.swap(*removed.mapped().service, nullptr);
  publish();
}

ServiceView ServiceRegistry::view(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const Record& r = find(name);
  return ServiceView{name, r.service, r.route, r.serving, canary_of(name, r), serving_addresses(r)};
}

ServiceClaim ServiceRegistry::claim(const std::string& name) {
  std::lock_guard lock(mutex_);
  check_not_frozen();
  find(name);
  if (!claimed_.insert(name).second) {
    throw DomainError(ErrorKind::conflict, "busy",
                      fmt::format("another swap, deploy or rollback is running on '{}'", name));
  }
  return ServiceClaim(*this, name);
}

void ServiceRegistry::release(const std::string& name) {
  std::lock_guard lock(mutex_);
  claimed_.erase(name);
  released_.notify_all();
}

std::string ServiceRegistry::serving_addresses(const Record& r) {
  auto set = r.service->upstreams();
  return set ? set->addresses() : std::string();
}

Switched ServiceRegistry::switch_to(const std::string& name, const NextSet& next_set,
                                    const SwitchSettings& settings,
                                    const std::function<void()>& on_switched) {
  const ResolvedAddresses resolved = resolve_addresses(resolve_, next_set.addresses);
  ChangeLock lock(*this);
  Record& r = find(name);
  auto next = make_set(server_, resolved, r.serving.generation + 1);
  apply_cap(r, next);
  const Record before = r;
  r.watch = settings.watch.value_or(r.watch);
  r.serving.deploy = settings.spec.value_or(r.serving.deploy);
  record_switch(r, next_set.containers);
  // Saved before the switch: a switch the state does not hold would be undone by a restart,
  // which would then remove the containers that serve.
  const PendingSwitch pending{name, addresses_of(next)};
  save_or_undo(
      lock, [&] { r = before; }, &pending);
  Switched done;
  done.from = serving_addresses(r);
  const auto start = Clock::now();
  done.retired = server_.swap(*r.service, next);
  done.took = Clock::now() - start;
  if (on_switched) {
    on_switched();
  }
  done.to = serving_addresses(r);
  r.books.swaps += 1;
  r.books.swap_seconds += std::chrono::duration<double>(done.took).count();
  r.books.draining.insert(r.books.draining.end(), done.retired.begin(), done.retired.end());
  publish();
  return done;
}

void ServiceRegistry::record_switch(Record& r, const std::vector<ContainerRef>& containers) {
  r.serving.previous = addresses_of(r.service->upstreams());
  r.serving.generation += 1;
  // The containers that served until now become the most recent set in the history (those
  // that go on serving, after a scale, excepted); the ones taking over (a rollback target)
  // leave it.
  for (auto& set : r.serving.earlier) {
    std::erase_if(set, [&](const ContainerRef& c) { return holds(containers, c.id); });
  }
  std::vector<ContainerRef> leaving;
  for (const ContainerRef& c : r.serving.containers) {
    if (!holds(containers, c.id)) {
      leaving.push_back(c);
    }
  }
  if (!leaving.empty()) {
    r.serving.earlier.insert(r.serving.earlier.begin(), std::move(leaving));
  }
  std::erase_if(r.serving.earlier, [](const auto& set) { return set.empty(); });
  r.serving.containers = containers;
  r.serving.container_problem.clear();
}

std::uint64_t ServiceRegistry::reserve_container_number(const std::string& name) {
  ChangeLock lock(*this);
  Record& r = find(name);
  // The first container is numbered after the service's current generation; later ones count
  // on from there, whatever swaps and rollbacks happen in between.
  const std::uint64_t n =
      r.serving.next_container != 0 ? r.serving.next_container : r.serving.generation + 1;
  const std::uint64_t before = r.serving.next_container;
  r.serving.next_container = n + 1;
  save_or_undo(lock, [&] { r.serving.next_container = before; });  // before a container is made
  return n;
}

void ServiceRegistry::forget_containers(const std::string& name,
                                        const std::vector<std::string>& ids) {
  ChangeLock lock(*this);
  auto it = records_.find(name);
  if (it == records_.end()) {
    return;
  }
  for (auto& set : it->second.serving.earlier) {
    std::erase_if(set, [&](const ContainerRef& c) {
      return std::find(ids.begin(), ids.end(), c.id) != ids.end();
    });
  }
  std::erase_if(it->second.serving.earlier, [](const auto& set) { return set.empty(); });
  persist(lock);
}

std::vector<std::string> ServiceRegistry::container_services() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, r] : records_) {
    if (r.serving.next_container != 0 || !r.serving.containers.empty() ||
        !r.serving.earlier.empty()) {
      out.push_back(name);
    }
  }
  return out;
}

namespace {

// Ejects the member of `set` whose container (same order as the members) is `id`; returns
// "member ADDRESS (CONTAINER)", or nothing when none runs there.
std::optional<std::string> eject_member_in(const std::shared_ptr<const proxy::UpstreamSet>& set,
                                           const std::vector<ContainerRef>& containers,
                                           const std::string& id) {
  for (std::size_t i = 0; set && i < containers.size() && i < set->members().size(); ++i) {
    if (containers[i].id == id) {
      set->members()[i]->eject(proxy::Ejection::container_died);
      return fmt::format("member {} ({})", set->members()[i]->address(), containers[i].name);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ServiceRegistry::eject_container(const std::string& id) {
  std::lock_guard lock(mutex_);
  for (const auto& [name, r] : records_) {
    if (auto member = eject_member_in(r.service->upstreams(), r.serving.containers, id)) {
      return fmt::format("service {} {}", name, *member);
    }
    const auto canary = r.service->canary();
    if (auto member = eject_member_in(canary ? canary->set : nullptr, r.canary.containers, id)) {
      return fmt::format("service {} canary {}", name, *member);
    }
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::vector<ContainerRef>>> ServiceRegistry::deployed() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::vector<ContainerRef>>> out;
  for (const auto& [name, r] : records_) {
    std::vector<ContainerRef> all = r.serving.containers;
    all.insert(all.end(), r.canary.containers.begin(), r.canary.containers.end());
    if (!all.empty()) {
      out.emplace_back(name, std::move(all));
    }
  }
  return out;
}

void ServiceRegistry::set_container_problem(const std::string& name, const std::string& problem) {
  ChangeLock lock(*this);
  find(name).serving.container_problem = problem;
}

Switched ServiceRegistry::resize(const std::string& name, const std::vector<std::size_t>& keep,
                                 const NextSet& add) {
  const ResolvedAddresses resolved = resolve_addresses(resolve_, add.addresses);
  ChangeLock lock(*this);
  Record& r = find(name);
  const auto current = r.service->upstreams();
  std::vector<std::shared_ptr<proxy::Upstream>> members;
  std::vector<ContainerRef> containers;
  for (const std::size_t i : keep) {
    if (current && i < current->members().size()) {
      members.push_back(current->members()[i]);
    }
    if (i < r.serving.containers.size()) {
      containers.push_back(r.serving.containers[i]);
    }
  }
  if (auto more = make_set(server_, resolved, r.serving.generation)) {
    members.insert(members.end(), more->members().begin(), more->members().end());
  }
  auto next = std::make_shared<const proxy::UpstreamSet>(members);
  apply_cap(r, next);
  const std::vector<ContainerRef> before = r.serving.containers;
  containers.insert(containers.end(), add.containers.begin(), add.containers.end());
  r.serving.containers = std::move(containers);
  const PendingSwitch pending{name, addresses_of(next)};
  save_or_undo(
      lock, [&] { r.serving.containers = before; }, &pending);
  Switched done;
  done.from = serving_addresses(r);
  done.retired = server_.swap(*r.service, next);
  done.to = serving_addresses(r);
  r.books.draining.insert(r.books.draining.end(), done.retired.begin(), done.retired.end());
  publish();
  return done;
}

std::vector<WatchedSet> ServiceRegistry::watched() const {
  std::lock_guard lock(mutex_);
  std::vector<WatchedSet> out;
  for (const auto& [name, r] : records_) {
    if (auto set = r.service->upstreams()) {
      out.push_back(WatchedSet{name, std::move(set), r.watch});
    }
    if (auto canary = r.service->canary()) {  // checked alike: its members are ejected alike
      out.push_back(WatchedSet{name, canary->set, r.watch});
    }
  }
  return out;
}

void ServiceRegistry::end_drain(const std::string& name,
                                const std::vector<std::shared_ptr<proxy::Upstream>>& members,
                                std::chrono::milliseconds took) {
  ChangeLock lock(*this);
  if (auto it = records_.find(name); it != records_.end()) {
    auto& d = it->second.books.draining;
    std::erase_if(d, [&](const auto& u) {
      return std::find(members.begin(), members.end(), u) != members.end();
    });
    it->second.books.drains += 1;
    it->second.books.drain_seconds += std::chrono::duration<double>(took).count();
  }
}

void ServiceRegistry::pause(const std::string& name, std::chrono::milliseconds max_pause,
                            proxy::PauseNotice notice) {
  ChangeLock lock(*this);
  check_not_frozen();
  proxy::Service& service = *find(name).service;
  const auto undo = pause_undo(service);
  service.pause(max_pause, std::move(notice));
  save_or_undo(lock, undo);  // a paused service stays paused after a restart
}

void ServiceRegistry::resume(const std::string& name) {
  ChangeLock lock(*this);
  check_not_frozen();
  proxy::Service& service = *find(name).service;
  const auto undo = pause_undo(service);
  service.resume();
  save_or_undo(lock, undo);
}

void ServiceRegistry::publish() {
  std::vector<proxy::Route> routes;
  for (const auto& [name, r] : records_) {
    routes.push_back(proxy::Route{r.service, r.route.hosts, r.route.strip_prefix});
  }
  server_.router().replace(std::make_shared<const proxy::RouteTable>(std::move(routes)));
  publish_certificates();
}

void ServiceRegistry::publish_certificates() {
  std::vector<proxy::CertificateEntry> entries;
  for (const auto& [name, r] : records_) {
    r.service->set_https_policy(r.route.tls.redirect_https, r.route.tls.hsts_seconds);
    if (r.route.tls.certificate) {
      entries.push_back(proxy::CertificateEntry{r.route.tls.certificate, r.route.hosts});
    }
  }
  server_.tls().replace(
      std::make_shared<const proxy::CertificateStore>(entries, default_certificate_));
}

void ServiceRegistry::persist(ChangeLock& lock) {
  const ProxyState state = saved_state(records_);
  lock.records.unlock();
  try {
    store_.save(state);
  } catch (const std::exception& e) {
    fmt::print(stderr, "handoff: warning: state not saved: {}\n", e.what());
  }
  lock.records.lock();
}

void ServiceRegistry::save_or_undo(ChangeLock& lock, const std::function<void()>& undo,
                                   const PendingSwitch* pending) {
  const ProxyState state = saved_state(records_, pending);
  lock.records.unlock();
  try {
    store_.save(state);
    lock.records.lock();
  } catch (const std::exception& e) {
    lock.records.lock();
    undo();
    throw DomainError(
        ErrorKind::not_saved, "state_not_saved",
        fmt::format("the change was not made: the state could not be saved ({})", e.what()));
  }
}

std::optional<ProxyState> ServiceRegistry::freeze(std::chrono::milliseconds wait) {
  {
    // Waited for without the change lock: the workflows it waits for take it to finish.
    std::unique_lock lock(mutex_);
    if (!released_.wait_for(lock, wait, [this] { return claimed_.empty(); })) {
      return std::nullopt;
    }
  }
  ChangeLock lock(*this);  // a change being saved ends first
  if (!claimed_.empty() || frozen_) {
    return std::nullopt;  // claimed again in between: the upgrade is refused as busy
  }
  frozen_ = true;
  return saved_state(records_);
}

void ServiceRegistry::thaw() {
  ChangeLock lock(*this);
  frozen_ = false;
}

std::string ServiceRegistry::busy_services() const {
  std::lock_guard lock(mutex_);
  std::string names;
  for (const std::string& name : claimed_) {
    names += fmt::format("{}'{}'", names.empty() ? "" : ", ", name);
  }
  return names;
}

json::object ServiceRegistry::status() const {
  std::lock_guard lock(mutex_);
  return RegistryReport(records_, claimed_, server_, started_).status();
}

std::string ServiceRegistry::metrics() const {
  std::lock_guard lock(mutex_);
  return RegistryReport(records_, claimed_, server_, started_).metrics();
}

void ServiceRegistry::check_not_frozen() const {
  if (frozen_) {
    throw DomainError(ErrorKind::conflict, "upgrading",
                      "handoff is handing over to a new process; try again in a moment");
  }
}

}  // namespace handoff::control
