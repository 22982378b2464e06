#include "control/service_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "control/domain_error.hpp"
#include "proxy/address.hpp"

namespace handoff::control {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
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

// Resolves an upstream address for a service, turning a bad one into a 400.
std::shared_ptr<proxy::Upstream> make_upstream(proxy::Server& server, const std::string& address,
                                               std::uint64_t generation) {
  try {
    return server.make_upstream(address, generation);
  } catch (const std::exception& e) {
    throw DomainError(ErrorKind::invalid, "bad_upstream", e.what());
  }
}

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

}  // namespace

ServiceRegistry::ServiceRegistry(proxy::Server& server, const StateStore& store)
    : server_(server), store_(store) {}

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
      if (other != name &&
          std::find(record.hosts.begin(), record.hosts.end(), lower(h)) != record.hosts.end()) {
        throw DomainError(ErrorKind::conflict, "host_taken",
                          fmt::format("host '{}' already routes to service '{}'", h, other));
      }
    }
  }
}

void ServiceRegistry::restore(const ProxyState& state) {
  std::lock_guard lock(mutex_);
  for (const ServiceState& s : state.services) {
    Record r;
    r.hosts = s.hosts;
    r.strip_prefix = s.strip_prefix;
    r.previous = s.previous;
    r.generation = s.generation;
    r.container = ContainerRef{s.container_id, s.container_name, s.image};
    for (const SavedContainer& c : s.history) {
      r.history.push_back(ContainerRef{c.id, c.name, c.image});
    }
    r.next_container = s.next_container;
    std::shared_ptr<proxy::Upstream> up;
    try {
      // A service added without an upstream is saved with an empty one: it answers 503 until
      // its first swap or deploy, after a restart as before it.
      up = s.upstream.empty() ? nullptr : server_.make_upstream(s.upstream, s.generation);
    } catch (const std::exception& e) {
      throw std::runtime_error(
          fmt::format("saved service '{}' has a bad upstream: {}", s.name, e.what()));
    }
    r.tls = restore_tls(s);
    r.service = std::make_shared<proxy::Service>(s.name, server_.config().threads, up);
    // The last pause's settings are kept after a resume, and so after a restart too: the
    // state saved next must be the one loaded.
    r.service->pause(std::chrono::milliseconds(s.max_pause_ms),
                     {s.pause_message, std::chrono::seconds(s.retry_after_s)});
    if (!s.paused) {
      r.service->resume();  // before anyone can route to it: the route table is not out yet
    }
    records_[s.name] = std::move(r);
  }
  publish();
}

void ServiceRegistry::set_default_certificate(
    std::shared_ptr<const proxy::Certificate> certificate) {
  std::lock_guard lock(mutex_);
  default_certificate_ = std::move(certificate);
  publish_certificates();
}

void ServiceRegistry::add(const std::string& name, std::vector<std::string> hosts,
                          const std::string& upstream, bool strip_prefix, const TlsChange& tls) {
  if (!valid_name(name)) {
    throw DomainError(ErrorKind::invalid, "bad_name",
                      fmt::format("service name '{}' must be 1-63 of a-z, 0-9, '-' and '_'", name));
  }
  for (auto& h : hosts) {
    h = lower(h);
  }
  // A service may start without an upstream: it answers 503 until its first swap or deploy.
  auto up = upstream.empty() ? nullptr : make_upstream(server_, upstream, 1);
  std::lock_guard lock(mutex_);
  check_not_frozen();
  if (records_.count(name) != 0) {
    throw DomainError(ErrorKind::conflict, "service_exists",
                      fmt::format("service '{}' already exists", name));
  }
  check_hosts(name, hosts);
  check_acme(tls);
  Record r;
  r.hosts = std::move(hosts);
  r.strip_prefix = strip_prefix;
  r.tls = tls.applied_to({});
  r.service = std::make_shared<proxy::Service>(name, server_.config().threads, up);
  records_[name] = std::move(r);
  publish();
}

void ServiceRegistry::update(const std::string& name, ServiceChange change) {
  if (change.hosts) {
    for (auto& h : *change.hosts) {
      h = lower(h);
    }
  }
  std::lock_guard lock(mutex_);
  check_not_frozen();
  Record& r = find(name);
  check_acme(change.tls);  // every check before the first change: a refusal changes nothing
  if (change.hosts) {
    check_hosts(name, *change.hosts);
    r.hosts = std::move(*change.hosts);
  }
  r.strip_prefix = change.strip_prefix.value_or(r.strip_prefix);
  r.tls = change.tls.applied_to(r.tls);
  publish();
}

ServiceTls ServiceRegistry::tls(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return find(name).tls;
}

void ServiceRegistry::set_acme_available(bool available) {
  std::lock_guard lock(mutex_);
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
    if (r.tls.source == CertificateSource::acme) {
      out.push_back(AcmeTarget{name, r.hosts, r.tls.certificate, r.tls.issued_by_acme});
    }
  }
  return out;
}

bool ServiceRegistry::install_certificate(const std::string& name,
                                          std::shared_ptr<const proxy::Certificate> certificate) {
  std::lock_guard lock(mutex_);
  auto it = records_.find(name);
  if (frozen_ || it == records_.end() || it->second.tls.source != CertificateSource::acme) {
    return false;  // frozen: the successor orders again
  }
  it->second.tls.certificate = std::move(certificate);
  it->second.tls.issued_by_acme = true;
  publish_certificates();
  persist();
  return true;
}

void ServiceRegistry::set_acme_state(const std::string& name, AcmeState state) {
  std::lock_guard lock(mutex_);
  if (auto it = records_.find(name); it != records_.end()) {
    it->second.tls.acme = std::move(state);
  }
}

bool ServiceRegistry::has_hosts(const std::string& name, std::vector<std::string> hosts) const {
  for (auto& h : hosts) {
    h = lower(h);
  }
  std::sort(hosts.begin(), hosts.end());
  std::lock_guard lock(mutex_);
  std::vector<std::string> current = find(name).hosts;
  std::sort(current.begin(), current.end());
  return current == hosts;
}

bool ServiceRegistry::exists(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return records_.count(name) != 0;
}

void ServiceRegistry::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  check_not_frozen();
  Record& r = find(name);
  if (r.busy) {
    throw DomainError(ErrorKind::conflict, "busy",
                      fmt::format("a workflow is running on service '{}'", name));
  }
  // Requests in flight hold their upstream; idle pooled connections to it are closed.
  server_.swap(*r.service, nullptr);
  records_.erase(name);
  publish();
}

std::shared_ptr<void> ServiceRegistry::claim(const std::string& name) {
  std::lock_guard lock(mutex_);
  check_not_frozen();
  Record& r = find(name);
  if (r.busy) {
    throw DomainError(ErrorKind::conflict, "busy",
                      fmt::format("another swap, deploy or rollback is running on '{}'", name));
  }
  r.busy = true;
  return std::shared_ptr<void>(nullptr, [this, name](void*) {
    std::lock_guard lock(mutex_);
    if (auto it = records_.find(name); it != records_.end()) {
      it->second.busy = false;
    }
    released_.notify_all();
  });
}

std::shared_ptr<proxy::Upstream> ServiceRegistry::swap(const std::string& name,
                                                       const std::string& address,
                                                       std::chrono::nanoseconds& switch_time,
                                                       const ContainerRef& container,
                                                       const std::function<void()>& on_switched) {
  std::lock_guard lock(mutex_);
  Record& r = find(name);
  auto next = make_upstream(server_, address, r.generation + 1);
  const auto start = Clock::now();
  auto previous = server_.swap(*r.service, next);
  switch_time = Clock::now() - start;
  if (on_switched) {
    on_switched();
  }
  r.generation += 1;
  r.previous = previous ? previous->address() : std::string();
  // The container that served until now becomes the most recent one in the history; the one
  // taking over (a rollback target) leaves it.
  std::erase_if(r.history, [&](const ContainerRef& c) { return c.id == container.id; });
  if (!r.container.id.empty() && r.container.id != container.id) {
    r.history.insert(r.history.begin(), r.container);
  }
  r.container = container;
  r.container_problem.clear();
  r.swaps += 1;
  r.swap_seconds += std::chrono::duration<double>(switch_time).count();
  publish();
  return previous;
}

std::uint64_t ServiceRegistry::next_generation(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return find(name).generation + 1;
}

std::uint64_t ServiceRegistry::reserve_container_number(const std::string& name) {
  std::lock_guard lock(mutex_);
  Record& r = find(name);
  // The first container is numbered after the service's current generation; later ones count
  // on from there, whatever swaps and rollbacks happen in between.
  const std::uint64_t n = r.next_container != 0 ? r.next_container : r.generation + 1;
  r.next_container = n + 1;
  persist();
  return n;
}

std::vector<ContainerRef> ServiceRegistry::history(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return find(name).history;
}

void ServiceRegistry::forget_containers(const std::string& name,
                                        const std::vector<std::string>& ids) {
  std::lock_guard lock(mutex_);
  auto it = records_.find(name);
  if (it == records_.end()) {
    return;
  }
  std::erase_if(it->second.history, [&](const ContainerRef& c) {
    return std::find(ids.begin(), ids.end(), c.id) != ids.end();
  });
  persist();
}

std::vector<std::string> ServiceRegistry::container_services() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, r] : records_) {
    if (r.next_container != 0 || !r.container.id.empty() || !r.history.empty()) {
      out.push_back(name);
    }
  }
  return out;
}

ContainerRef ServiceRegistry::container(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return find(name).container;
}

std::vector<std::pair<std::string, ContainerRef>> ServiceRegistry::deployed() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, ContainerRef>> out;
  for (const auto& [name, r] : records_) {
    if (!r.container.id.empty()) {
      out.emplace_back(name, r.container);
    }
  }
  return out;
}

void ServiceRegistry::set_container_problem(const std::string& name, const std::string& problem) {
  std::lock_guard lock(mutex_);
  find(name).container_problem = problem;
}

std::string ServiceRegistry::previous_upstream(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return find(name).previous;
}

std::shared_ptr<proxy::Service> ServiceRegistry::service(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return find(name).service;
}

std::string ServiceRegistry::current_upstream(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto up = find(name).service->upstream();
  return up ? up->address() : std::string();
}

void ServiceRegistry::begin_drain(const std::string& name,
                                  std::shared_ptr<proxy::Upstream> upstream) {
  std::lock_guard lock(mutex_);
  if (auto it = records_.find(name); it != records_.end()) {
    it->second.draining.push_back(std::move(upstream));
  }
}

void ServiceRegistry::end_drain(const std::string& name, const proxy::Upstream* upstream,
                                std::chrono::milliseconds took) {
  std::lock_guard lock(mutex_);
  if (auto it = records_.find(name); it != records_.end()) {
    auto& d = it->second.draining;
    std::erase_if(d, [&](const auto& u) { return u.get() == upstream; });
    it->second.drains += 1;
    it->second.drain_seconds += std::chrono::duration<double>(took).count();
  }
}

void ServiceRegistry::pause(const std::string& name, std::chrono::milliseconds max_pause,
                            proxy::PauseNotice notice) {
  std::lock_guard lock(mutex_);
  check_not_frozen();
  find(name).service->pause(max_pause, std::move(notice));
  persist();  // a paused service stays paused after a restart
}

void ServiceRegistry::resume(const std::string& name) {
  std::lock_guard lock(mutex_);
  check_not_frozen();
  find(name).service->resume();
  persist();
}

void ServiceRegistry::publish() {
  std::vector<proxy::Route> routes;
  for (const auto& [name, r] : records_) {
    routes.push_back(proxy::Route{r.service, r.hosts, r.strip_prefix});
  }
  server_.router().replace(std::make_shared<const proxy::RouteTable>(std::move(routes)));
  publish_certificates();
  persist();
}

void ServiceRegistry::publish_certificates() {
  std::vector<proxy::CertificateEntry> entries;
  for (const auto& [name, r] : records_) {
    r.service->set_https_policy(r.tls.redirect_https, r.tls.hsts_seconds);
    if (r.tls.certificate) {
      entries.push_back(proxy::CertificateEntry{r.tls.certificate, r.hosts});
    }
  }
  server_.tls().replace(
      std::make_shared<const proxy::CertificateStore>(entries, default_certificate_));
}

ProxyState ServiceRegistry::snapshot() const {
  ProxyState state;
  for (const auto& [name, r] : records_) {
    auto up = r.service->upstream();
    std::vector<SavedContainer> history;
    for (const ContainerRef& c : r.history) {
      history.push_back(SavedContainer{c.id, c.name, c.image});
    }
    const auto notice = r.service->pause_notice();
    state.services.push_back(ServiceState{name,
                                          r.hosts,
                                          up ? up->address() : "",
                                          r.previous,
                                          r.generation,
                                          r.container.id,
                                          r.container.name,
                                          r.container.image,
                                          std::move(history),
                                          r.next_container,
                                          r.service->paused(),
                                          r.service->max_pause().count(),
                                          notice->message,
                                          notice->retry_after.count(),
                                          r.strip_prefix,
                                          std::string(source_name(r.tls.source)),
                                          r.tls.certificate ? r.tls.certificate->chain_pem() : "",
                                          r.tls.certificate ? r.tls.certificate->key_pem() : "",
                                          r.tls.issued_by_acme,
                                          r.tls.redirect_https,
                                          r.tls.hsts_seconds});
  }
  return state;
}

void ServiceRegistry::persist() {
  try {
    store_.save(snapshot());
  } catch (const std::exception& e) {
    // Routing already changed; a failed save must be loud but must not undo it.
    fmt::print(stderr, "handoff: warning: state not saved: {}\n", e.what());
  }
}

std::optional<ProxyState> ServiceRegistry::freeze(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  const bool idle = released_.wait_for(lock, wait, [this] {
    return std::none_of(records_.begin(), records_.end(),
                        [](const auto& entry) { return entry.second.busy; });
  });
  if (!idle || frozen_) {
    return std::nullopt;
  }
  frozen_ = true;
  return snapshot();
}

void ServiceRegistry::thaw() {
  std::lock_guard lock(mutex_);
  frozen_ = false;
}

std::string ServiceRegistry::busy_services() const {
  std::lock_guard lock(mutex_);
  std::string names;
  for (const auto& [name, r] : records_) {
    if (r.busy) {
      names += fmt::format("{}'{}'", names.empty() ? "" : ", ", name);
    }
  }
  return names;
}

void ServiceRegistry::check_not_frozen() const {
  if (frozen_) {
    throw DomainError(ErrorKind::conflict, "upgrading",
                      "handoff is handing over to a new process; try again in a moment");
  }
}

json::object ServiceRegistry::status() const {
  std::lock_guard lock(mutex_);
  json::array services;
  for (const auto& [name, r] : records_) {
    auto up = r.service->upstream();
    auto counters = r.service->counters();
    std::uint64_t requests = 0;
    for (auto n : counters.responses) {
      requests += n;
    }
    json::array draining;
    for (const auto& d : r.draining) {
      draining.push_back(json::object{{"upstream", d->address()},
                                      {"generation", d->generation()},
                                      {"in_flight", d->in_flight()}});
    }
    json::array hosts;
    for (const auto& h : r.hosts) {
      hosts.emplace_back(h);
    }
    json::value container = nullptr;
    if (!r.container.id.empty()) {
      container = json::object{{"id", r.container.id.substr(0, 12)},
                               {"name", r.container.name},
                               {"image", r.container.image},
                               {"problem", r.container_problem}};
    }
    services.push_back(json::object{
        {"name", name},
        {"container", std::move(container)},
        {"hosts", std::move(hosts)},
        {"strip_prefix", r.strip_prefix},
        {"upstream", up ? json::value(up->address()) : json::value(nullptr)},
        {"previous", r.previous},
        {"generation", r.generation},
        {"in_flight", up ? up->in_flight() : 0},
        {"draining", std::move(draining)},
        {"paused", r.service->paused()},
        {"busy", r.busy},
        {"requests", requests},
        {"errors", counters.responses[5]},
        {"connect_errors", counters.connect_errors},
        {"tls", tls_status(r.tls)},
    });
  }
  const double uptime = std::chrono::duration<double>(Clock::now() - started_).count();
  return json::object{{"uptime_seconds", static_cast<std::int64_t>(uptime)},
                      {"connections", server_.connections()},
                      {"services", std::move(services)}};
}

namespace {

// Starts a metric family: its HELP and TYPE lines.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string ServiceRegistry::metrics() const {
  std::lock_guard lock(mutex_);
  std::string out;
  append_request_metrics(out);
  append_upstream_metrics(out);
  append_workflow_metrics(out);
  return out;
}

// Requests by service: answers by status class, durations, unfinished ones.
void ServiceRegistry::append_request_metrics(std::string& out) const {
  family(out, "handoff_requests_total", "counter",
         "Requests answered, by service and status class.");
  for (const auto& [name, r] : records_) {
    auto c = r.service->counters();
    for (std::size_t cls = 1; cls < c.responses.size(); ++cls) {
      out += fmt::format("handoff_requests_total{{service=\"{}\",code=\"{}xx\"}} {}\n", name, cls,
                         c.responses[cls]);
    }
  }
  family(out, "handoff_request_duration_seconds", "histogram",
         "Time from a request's head to the end of its answer, by service.");
  for (const auto& [name, r] : records_) {
    const auto c = r.service->counters();
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < c.duration_buckets.size(); ++b) {
      cumulative += c.duration_buckets[b];
      const std::string le = b < proxy::kDurationBuckets.size()
                                 ? fmt::format("{}", proxy::kDurationBuckets[b])
                                 : std::string("+Inf");
      out += fmt::format("handoff_request_duration_seconds_bucket{{service=\"{}\",le=\"{}\"}} {}\n",
                         name, le, cumulative);
    }
    out += fmt::format("handoff_request_duration_seconds_sum{{service=\"{}\"}} {:.6f}\n", name,
                       c.duration_sum);
    out += fmt::format("handoff_request_duration_seconds_count{{service=\"{}\"}} {}\n", name,
                       cumulative);
  }
  family(out, "handoff_requests_unfinished_total", "counter",
         "Requests that ended without a whole answer: cut at a drain or shutdown timeout, or "
         "otherwise (client gone, upstream cut mid-body).");
  for (const auto& [name, r] : records_) {
    const auto c = r.service->counters();
    out += fmt::format(
        "handoff_requests_unfinished_total{{service=\"{}\",reason=\"drain_timeout\"}} {}\n", name,
        c.closed_at_drain);
    out += fmt::format("handoff_requests_unfinished_total{{service=\"{}\",reason=\"other\"}} {}\n",
                       name, c.unfinished);
  }
  family(out, "handoff_unrouted_requests_total", "counter",
         "Requests for a Host no service claims (404).");
  out += fmt::format("handoff_unrouted_requests_total {}\n", server_.unrouted());
  family(out, "handoff_rejected_requests_total", "counter",
         "Requests refused before routing: malformed, or over a limit (400, 408, 413, 431, 501, "
         "505).");
  out += fmt::format("handoff_rejected_requests_total {}\n", server_.rejected());
  family(out, "handoff_tls_handshake_failures_total", "counter",
         "TLS connections closed because the handshake failed or timed out.");
  out += fmt::format("handoff_tls_handshake_failures_total {}\n", server_.tls_failures());
}

// Upstreams: requests in flight per generation, failed connections, open client connections.
void ServiceRegistry::append_upstream_metrics(std::string& out) const {
  family(out, "handoff_in_flight", "gauge",
         "Requests in flight, by service and upstream generation.");
  for (const auto& [name, r] : records_) {
    auto emit = [&out, &service = name](const proxy::Upstream& u) {
      out += fmt::format("handoff_in_flight{{service=\"{}\",generation=\"{}\"}} {}\n", service,
                         u.generation(), u.in_flight());
    };
    if (auto up = r.service->upstream()) {
      emit(*up);
    }
    for (const auto& d : r.draining) {
      emit(*d);
    }
  }
  family(out, "handoff_upstream_connect_errors_total", "counter",
         "Failed connections to upstreams.");
  for (const auto& [name, r] : records_) {
    out += fmt::format("handoff_upstream_connect_errors_total{{service=\"{}\"}} {}\n", name,
                       r.service->counters().connect_errors);
  }
  family(out, "handoff_connections", "gauge", "Open client connections.");
  out += fmt::format("handoff_connections {}\n", server_.connections());
}

// Swaps and drains: how long the switch and the drain took.
void ServiceRegistry::append_workflow_metrics(std::string& out) const {
  family(out, "handoff_swap_duration_seconds", "summary", "Time the upstream switch itself took.");
  for (const auto& [name, r] : records_) {
    out += fmt::format("handoff_swap_duration_seconds_sum{{service=\"{}\"}} {:.9f}\n", name,
                       r.swap_seconds);
    out += fmt::format("handoff_swap_duration_seconds_count{{service=\"{}\"}} {}\n", name, r.swaps);
  }
  family(out, "handoff_drain_duration_seconds", "summary",
         "Time from a swap until the old upstream was idle.");
  for (const auto& [name, r] : records_) {
    out += fmt::format("handoff_drain_duration_seconds_sum{{service=\"{}\"}} {:.6f}\n", name,
                       r.drain_seconds);
    out +=
        fmt::format("handoff_drain_duration_seconds_count{{service=\"{}\"}} {}\n", name, r.drains);
  }
}

}  // namespace handoff::control
