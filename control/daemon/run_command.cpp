#include "control/daemon/run_command.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "containers/docker_engine.hpp"
#include "containers/unix_socket.hpp"
#include "control/acme/acme_manager.hpp"
#include "control/api/control_api.hpp"
#include "control/api/control_server.hpp"
#include "control/base/flags.hpp"
#include "control/base/text_file.hpp"
#include "control/base/usable_cores.hpp"
#include "control/daemon/metrics_listener.hpp"
#include "control/health/health_monitor.hpp"
#include "control/monitors/canary_monitor.hpp"
#include "control/monitors/container_watch.hpp"
#include "control/protocol/control_socket.hpp"
#include "control/protocol/duration.hpp"
#include "control/registry/service_registry.hpp"
#include "control/registry/state_store.hpp"
#include "control/swarm/swarm_follower.hpp"
#include "control/upgrade/predecessor_retirement.hpp"
#include "control/upgrade/succession.hpp"
#include "control/upgrade/takeover.hpp"
#include "control/workflows/canary_workflow.hpp"
#include "control/workflows/container_reconcile.hpp"
#include "proxy/address.hpp"
#include "proxy/http/whole_number.hpp"
#include "proxy/server.hpp"

namespace handoff::control {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kUsage =
    "usage: handoff run [--listen HOST:PORT]... [--listen-tls HOST:PORT]... [--upstream "
    "HOST:PORT]\n"
    "                   [options]\n"
    "\n"
    "Runs the proxy. Services are added and switched through the control socket (see\n"
    "handoff --help); --upstream creates the service `default`, which gets every request\n"
    "whose Host no other service claims. Services are saved in --state-dir and restored\n"
    "on start.\n"
    "\n"
    "SIGTERM or SIGINT stops accepting, lets requests in flight finish (up to\n"
    "--shutdown-timeout) and exits 0. `handoff upgrade --exec PATH` (or starting the new\n"
    "binary with the same flags and --takeover) hands the listening sockets and the state\n"
    "to a new process without refusing a connection.\n"
    "\n"
    "options:\n";

std::size_t parse_count(std::string_view text) {
  const std::optional<std::size_t> n = proxy::parse_whole_number<std::size_t>(text);
  if (!n) {
    throw std::invalid_argument(fmt::format("'{}' is not a whole number", text));
  }
  return *n;
}

// A number from 0 to 1, such as 0.67.
double parse_fraction(std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v >= 0 && v <= 1)) {
    throw std::invalid_argument(fmt::format("'{}' is not a fraction from 0 to 1", text));
  }
  return v;
}

// A byte count with an optional k, m or g suffix (powers of 1024).
std::uint64_t parse_size(std::string_view text) {
  std::uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        scale = 1024;
        break;
      case 'm':
      case 'M':
        scale = 1024 * 1024;
        break;
      case 'g':
      case 'G':
        scale = 1024 * 1024 * 1024;
        break;
      default:
        break;
    }
  }
  const std::string_view digits = scale == 1 ? text : text.substr(0, text.size() - 1);
  return parse_count(digits) * scale;
}

// How long a successor waits for the running handoff to hand over: it first lets workflows in
// progress (a deploy's drain) end.
constexpr auto kTakeoverWait = std::chrono::minutes(11);

// Many idle keep-alive clients need many descriptors; use all the hard limit allows.
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

namespace {

/// What `handoff run` was asked for.
struct RunOptions {
  proxy::ProxyConfig config;
  std::vector<std::string> listen;
  std::vector<std::string> listen_tls;
  std::string default_cert;
  std::string default_key;
  AcmeSettings acme;
  std::string upstream;
  std::string control_flag;
  std::string control_group;
  std::string state_dir = "/var/lib/handoff";
  std::string metrics_listen;
  bool ignore_state = false;
  bool takeover = false;
  bool swarm = false;
  bool help = false;
};

// What --balance names.
proxy::Balancing parse_balancing(std::string_view v) {
  if (v == "least-of-two") {
    return proxy::Balancing::least_of_two;
  }
  if (v == "round-robin") {
    return proxy::Balancing::round_robin;
  }
  throw std::invalid_argument(
      fmt::format("--balance: '{}' is neither least-of-two nor round-robin", v));
}

// The data plane's limits, timeouts and protocol flags of `handoff run` (a table).
std::vector<Flag> data_plane_flags(RunOptions& o) {
  auto millis = [](proxy::Millis& field) {
    return [&field](std::string_view v) { field = parse_duration(v); };
  };
  return {
      {"threads", "N", "worker threads, each with its own acceptor (default: the usable cores)",
       [&o](std::string_view v) { o.config.threads = static_cast<unsigned>(parse_count(v)); }},
      {"client-header-timeout", "DUR", "receive a request head within (default 10s)",
       millis(o.config.client_header_timeout)},
      {"client-idle-timeout", "DUR", "keep-alive wait for the next request (default 60s)",
       millis(o.config.client_idle_timeout)},
      {"client-io-timeout", "DUR", "each body read/write to a client (default 60s)",
       millis(o.config.client_io_timeout)},
      {"upstream-connect-timeout", "DUR", "connect to an upstream within (default 5s)",
       millis(o.config.upstream_connect_timeout)},
      {"upstream-response-timeout", "DUR", "each wait for upstream bytes; then 504 (default 60s)",
       millis(o.config.upstream_response_timeout)},
      {"upstream-idle-timeout", "DUR", "close pooled upstream connections idle this long (30s)",
       millis(o.config.upstream_idle_timeout)},
      {"tunnel-idle-timeout", "DUR", "close an upgraded connection idle this long (default 1h)",
       millis(o.config.tunnel_idle_timeout)},
      {"shutdown-timeout", "DUR", "on SIGTERM, wait this long for requests in flight (30s)",
       millis(o.config.shutdown_timeout)},
      {"max-header-bytes", "N", "request head size limit; 431 beyond (default 16384)",
       [&o](std::string_view v) { o.config.max_header_bytes = parse_count(v); }},
      {"max-body", "SIZE", "request body limit, e.g. 10m; 413 beyond (default: none)",
       [&o](std::string_view v) { o.config.max_body_bytes = parse_size(v); }},
      {"max-connections", "N", "client connections at once; 503 beyond (default 65536)",
       [&o](std::string_view v) { o.config.max_connections = parse_count(v); }},
      {"upstream-max-idle", "N", "idle pooled connections per upstream and thread (default 256)",
       [&o](std::string_view v) { o.config.upstream_max_idle = parse_count(v); }},
      {"max-conns-per-member", "N",
       "upstream connections in use per member; more requests wait in a queue (default: none)",
       [&o](std::string_view v) { o.config.max_conns_per_member = parse_count(v); }},
      {"max-queue", "N", "requests waiting per member for a connection; 503 beyond (default 1000)",
       [&o](std::string_view v) { o.config.max_queue_per_member = parse_count(v); }},
      {"queue-timeout", "DUR", "a queued request gets 503 after waiting this long (default 10s)",
       [&o](std::string_view v) { o.config.queue_timeout = parse_duration(v); }},
      {"h2c", "", "plain listeners also take HTTP/2 with prior knowledge (behind a TLS proxy)",
       [&o](std::string_view) { o.config.h2c = true; }},
      {"no-http2", "", "TLS listeners offer HTTP/1.1 only (HTTP/2 is offered by default)",
       [&o](std::string_view) { o.config.http2 = false; }},
      {"h2-max-streams", "N", "concurrent streams per HTTP/2 connection (default 100)",
       [&o](std::string_view v) {
         o.config.h2_max_streams = static_cast<std::uint32_t>(parse_count(v));
       }},
      {"balance", "HOW",
       "how a request picks a member of a service's set: least-of-two (default; of two at "
       "random, the one expected to answer sooner) or round-robin",
       [&o](std::string_view v) { o.config.balancing = parse_balancing(v); }},
      {"no-access-log", "", "do not write the JSON access log to stdout",
       [&o](std::string_view) { o.config.access_log = false; }},
  };
}

// The flags of `handoff run` (a table).
std::vector<Flag> run_flags(RunOptions& o) {
  std::vector<Flag> flags = {
      {"listen", "HOST:PORT", "address to accept clients on; repeatable (default 0.0.0.0:80)",
       [&o](std::string_view v) { o.listen.emplace_back(v); }},
      {"listen-tls", "HOST:PORT", "address to accept HTTPS clients on; repeatable",
       [&o](std::string_view v) { o.listen_tls.emplace_back(v); }},
      {"tls-default-cert", "FILE", "certificate (PEM chain) for TLS names no service covers",
       [&o](std::string_view v) { o.default_cert = v; }},
      {"tls-default-key", "FILE", "the private key (PEM) of --tls-default-cert",
       [&o](std::string_view v) { o.default_key = v; }},
      {"acme-directory", "URL", "ACME directory for automatic certificates (--tls acme)",
       [&o](std::string_view v) { o.acme.directory_url = v; }},
      {"acme-email", "EMAIL", "contact of the ACME account (with --acme-directory)",
       [&o](std::string_view v) { o.acme.email = v; }},
      {"acme-ca", "FILE", "trust this CA (PEM) for the ACME server, e.g. a test CA",
       [&o](std::string_view v) { o.acme.ca_file = v; }},
      {"acme-renew-at", "FRACTION", "renew once this part of a lifetime has passed (0.67)",
       [&o](std::string_view v) { o.acme.renew_at = parse_fraction(v); }},
      {"acme-retry", "DUR", "first wait after a failed order; doubles up to 1h (default 30s)",
       [&o](std::string_view v) { o.acme.retry = parse_duration(v); }},
      {"upstream", "HOST:PORT", "upstream of the service `default`",
       [&o](std::string_view v) { o.upstream = v; }},
  };
  for (Flag& f : data_plane_flags(o)) {
    flags.push_back(std::move(f));
  }
  std::vector<Flag> rest = {
      {"control", "PATH", "control socket (default $HANDOFF_CONTROL or /run/handoff/control.sock)",
       [&o](std::string_view v) { o.control_flag = v; }},
      {"control-group", "NAME", "let this group use the control socket (mode 0660)",
       [&o](std::string_view v) { o.control_group = v; }},
      {"state-dir", "DIR", "where services are saved (default /var/lib/handoff)",
       [&o](std::string_view v) { o.state_dir = v; }},
      {"metrics-listen", "HOST:PORT", "also serve GET /metrics over TCP here (for Prometheus)",
       [&o](std::string_view v) { o.metrics_listen = v; }},
      {"ignore-state", "", "start even if the saved state cannot be read (it is replaced)",
       [&o](std::string_view) { o.ignore_state = true; }},
      {"takeover", "", "take the listening sockets and state over from the running handoff",
       [&o](std::string_view) { o.takeover = true; }},
      {"swarm", "",
       "follow the Docker swarm this node's engine manages: its services and versions, as "
       "every node's handoff sees them; deploys go to the swarm",
       [&o](std::string_view) { o.swarm = true; }},
      {"help", "", "show this help", [&o](std::string_view) { o.help = true; }},
  };
  for (Flag& f : rest) {
    flags.push_back(std::move(f));
  }
  return flags;
}

/// The running daemon's parts, in the order they are built.
struct Daemon {
  std::unique_ptr<asio::io_context> waiting;  // where the main thread waits for a signal
  std::unique_ptr<StateStore> store;
  std::unique_ptr<proxy::Server> server;
  std::unique_ptr<ServiceRegistry> registry;
  std::unique_ptr<ControlApi> api;
  std::unique_ptr<ControlServer> control;
  std::unique_ptr<MetricsListener> metrics;
  std::unique_ptr<AcmeManager> acme;
  std::unique_ptr<HealthMonitor> health;    // active checks on the serving members
  std::unique_ptr<ContainerWatch> deaths;   // the engine's word that a member's container died
  std::unique_ptr<CanaryMonitor> canaries;  // rolls canaries back (or promotes them) by itself
  std::unique_ptr<Succession> succession;
  std::unique_ptr<TakeoverListener> takeover;
  std::unique_ptr<PredecessorRetirement> retirement;  // after taking over from a container
  std::unique_ptr<SwarmFollower> swarm;  // with --swarm: the registry follows the swarm's records
};

// Checks what the flags leave to be checked and resolves the listen addresses.
void complete_options(RunOptions& o, const std::vector<std::string_view>& extra) {
  if (!extra.empty()) {
    throw std::invalid_argument(fmt::format("unexpected argument '{}'", extra.front()));
  }
  if (o.config.max_header_bytes < 1024) {
    throw std::invalid_argument("--max-header-bytes must be at least 1024");
  }
  if (o.listen.empty() && o.listen_tls.empty()) {
    o.listen.emplace_back("0.0.0.0:80");
  }
  for (const std::string& l : o.listen) {
    for (const auto& ep : proxy::resolve_address(l)) {
      o.config.listen.push_back(ep);
    }
  }
  for (const std::string& l : o.listen_tls) {
    for (const auto& ep : proxy::resolve_address(l)) {
      o.config.listen_tls.push_back(ep);
    }
  }
  if (o.default_cert.empty() != o.default_key.empty()) {
    throw std::invalid_argument("--tls-default-cert and --tls-default-key go together");
  }
  if (o.acme.directory_url.empty() != o.acme.email.empty()) {
    throw std::invalid_argument("--acme-directory and --acme-email go together");
  }
  if (!o.acme.ca_file.empty()) {
    read_text_file(o.acme.ca_file, "--acme-ca");  // unreadable: a start-up error
  }
  if (!o.upstream.empty()) {
    proxy::resolve_address(o.upstream);  // a bad --upstream is a start-up error
  }
}

// The saved state; `loaded` says whether a state file existed and was read. A bad file stops
// the start unless --ignore-state.
ProxyState load_saved_state(const StateStore& store, bool ignore_state, bool& loaded) {
  try {
    const bool exists = store.exists();
    ProxyState saved = store.load();
    loaded = exists;
    return saved;
  } catch (const std::exception& e) {
    if (!ignore_state) {
      throw std::runtime_error(
          fmt::format("{}; refusing to start without the saved routes (fix the file, or start with "
                      "--ignore-state to discard it)",
                      e.what()));
    }
    fmt::print(stderr, "handoff: warning: {}; starting without it (--ignore-state)\n", e.what());
    loaded = false;
    return {};
  }
}

// The --tls-default-cert/--tls-default-key pair. An expired one is used with a warning (as a
// restart must not take HTTPS down); an unparsable or mismatched one stops the start.
std::shared_ptr<const proxy::Certificate> load_default_certificate(const RunOptions& o) {
  const std::string chain = read_text_file(o.default_cert, "--tls-default-cert");
  const std::string key = read_text_file(o.default_key, "--tls-default-key");
  try {
    return proxy::Certificate::parse(chain, key);
  } catch (const proxy::CertificateError& e) {
    auto lenient = proxy::Certificate::parse(chain, key, false);  // throws again if unparsable
    fmt::print(stderr, "handoff: warning: --tls-default-cert: {}\n", e.what());
    return lenient;
  }
}

// The monitor that ends canaries by themselves, through the same workflows as `rollback` and
// `promote`. A service busy with another workflow is judged again next round.
std::unique_ptr<CanaryMonitor> make_canary_monitor(ServiceRegistry& registry, proxy::Server& server,
                                                   EngineFactory engines) {
  auto act = [&registry, &server, engines](const CanaryVerdict& v, const std::stop_token& stop) {
    try {
      const DeployOptions options;
      const Operation op =
          v.promote ? prepare_promote(registry, server, engines, v.service, options)
                    : prepare_canary_rollback(registry, server, engines, v.service, options,
                                              "rolled back by handoff: " + v.reason);
      run_unattended(op,
                     fmt::format("canary of {} {}: {}", v.service,
                                 v.promote ? "promoted" : "rolled back", v.reason),
                     stop);
    } catch (const DomainError& e) {
      if (e.code() != "busy") {  // another workflow runs on it: quietly judged again
        fmt::print(stderr, "handoff: canary of {}: {} (trying again)\n", v.service, e.what());
      }
    }
  };
  return std::make_unique<CanaryMonitor>([&registry] { return registry.canaries(); },
                                         std::move(act));
}

// Builds the proxy, restores its services and opens the control socket. Throws on any
// start-up error.
Daemon build_daemon(const RunOptions& o, Inheritance* inherited) {
  Daemon d;
  d.waiting = std::make_unique<asio::io_context>(1);
  d.store = std::make_unique<StateStore>(o.state_dir);
  bool state_loaded = inherited != nullptr;
  const ProxyState saved = inherited != nullptr
                               ? inherited->state
                               : load_saved_state(*d.store, o.ignore_state, state_loaded);
  if (inherited != nullptr) {
    d.store->save(saved);  // the state file is this process's from now on
  }
  d.server = std::make_unique<proxy::Server>(o.config, inherited != nullptr
                                                           ? std::move(inherited->listeners)
                                                           : std::vector<proxy::ListeningSocket>{});
  d.registry = std::make_unique<ServiceRegistry>(*d.server, *d.store);
  if (!o.default_cert.empty()) {
    d.registry->set_default_certificate(load_default_certificate(o));
  }
  d.registry->set_acme_available(!o.acme.directory_url.empty());
  d.registry->restore(saved);
  if (!o.upstream.empty() && state_loaded) {
    // Once a state file exists it wins: after a deploy the saved upstream is the live one, and
    // a `default` removed through the API stays removed. The flag seeds a first start.
    fmt::print(stderr, "handoff: services restored from {} (--upstream {} not used)\n",
               d.store->file().string(), o.upstream);
  } else if (!o.upstream.empty()) {
    d.registry->add("default", {}, o.upstream);
  }
  EngineFactory engines = [] { return std::make_unique<containers::DockerEngine>(); };
  check_restored_containers(*d.registry, engines);
  d.deaths = std::make_unique<ContainerWatch>(*d.registry, engines);
  d.api = std::make_unique<ControlApi>(*d.registry, *d.server, engines);
  if (o.swarm) {
    SwarmEngineFactory swarm_engines = [] { return std::make_unique<containers::DockerEngine>(); };
    d.swarm = std::make_unique<SwarmFollower>(*d.registry, *d.server, swarm_engines);
    try {
      d.swarm->sync();  // a first look: without a swarm to follow, `run --swarm` does not start
    } catch (const containers::EngineError& e) {
      throw std::runtime_error(fmt::format("--swarm: {}", e.what()));
    }
    d.api->set_swarm(d.swarm.get(), swarm_engines);
  }
  const std::string control_path = control_socket_path(o.control_flag);
  d.control =
      std::make_unique<ControlServer>(control_path, o.control_group, *d.api, inherited != nullptr);
  asio::io_context* waiting = d.waiting.get();  // a heap object: stays where it is
  d.succession = std::make_unique<Succession>(
      *d.registry, *d.server, [waiting] { asio::post(*waiting, [waiting] { waiting->stop(); }); });
  d.api->set_succession(d.succession.get());
  d.takeover = std::make_unique<TakeoverListener>(takeover_socket_path(control_path),
                                                  d.succession->callbacks(), inherited != nullptr);
  if (!o.metrics_listen.empty()) {
    ServiceRegistry& registry = *d.registry;
    auto render = [&registry] { return registry.metrics(); };
    const bool inherited_metrics = inherited != nullptr && inherited->metrics.get() >= 0;
    d.metrics = inherited_metrics
                    ? std::make_unique<MetricsListener>(inherited->metrics.release(), render)
                    : std::make_unique<MetricsListener>(
                          proxy::resolve_address(o.metrics_listen).front(), render);
    d.succession->set_metrics_socket(d.metrics->native_handle());
  }
  if (!o.acme.directory_url.empty()) {
    d.acme = std::make_unique<AcmeManager>(o.acme, *d.registry, d.server->acme_challenges(),
                                           o.state_dir);
  }
  d.health =
      std::make_unique<HealthMonitor>([&registry = *d.registry] { return registry.watched(); });
  d.canaries = make_canary_monitor(*d.registry, *d.server, engines);
  return d;
}

// Starts serving and says where.
void start_daemon(Daemon& d, const proxy::ProxyConfig& config) {
  d.server->start();
  d.health->start();
  d.deaths->start();
  d.canaries->start();
  if (d.swarm) {
    d.swarm->start();
    fmt::print(stderr, "handoff: following the swarm's services\n");
  }
  d.control->start();
  d.takeover->start();
  for (const auto& ep : d.server->local_endpoints()) {
    fmt::print(stderr, "handoff: listening on {} ({} thread{})\n", proxy::format_endpoint(ep),
               config.threads, config.threads == 1 ? "" : "s");
  }
  for (const auto& ep : d.server->tls_endpoints()) {
    fmt::print(stderr, "handoff: listening for HTTPS on {}\n", proxy::format_endpoint(ep));
  }
  const boost::json::object status = d.registry->status();
  for (const auto& s : status.at("services").as_array()) {
    const auto& o = s.as_object();
    fmt::print(stderr, "handoff: service {} -> {}\n", o.at("name").as_string().c_str(),
               o.at("upstream").is_string() ? o.at("upstream").as_string().c_str() : "(none)");
  }
  fmt::print(stderr, "handoff: control socket {}\n", d.control->path());
  if (d.acme) {
    d.acme->start();
  }
  if (d.metrics) {
    d.metrics->start();
    fmt::print(stderr, "handoff: metrics on http://{}/metrics\n",
               proxy::format_endpoint(d.metrics->local_endpoint()));
  }
}

// Stops serving once a successor accepts on the listening sockets: each further request on
// a keep-alive connection is answered with `Connection: close`, requests in flight finish (up
// to the drain timeout), then the process exits 0.
void step_down(Daemon& d) {
  const auto drain = d.succession->drain_timeout();
  fmt::print(stderr, "handoff: process {} took over; finishing {} open connection(s), up to {}\n",
             d.succession->successor(), d.server->connections(), format_duration(drain));
  if (d.acme) {
    d.acme->stop();  // the successor renews from now on
  }
  d.health->stop();  // and checks the members
  d.deaths->stop();
  d.canaries->stop();  // and judges the canaries
  d.metrics.reset();   // the successor answers on the same socket, with the live numbers
  if (!d.succession->container().empty()) {
    // The engine must not start this container again once it exits: the successor serves.
    try {
      containers::DockerEngine().set_restart_policy(d.succession->container(), "no");
    } catch (const std::exception& e) {
      fmt::print(stderr, "handoff: warning: {}\n", e.what());
    }
  }
  d.takeover->stop();
  d.control->stop(drain);
  d.server->hand_over(drain);
  fmt::print(stderr, "handoff: stopped after the upgrade\n");
}

// Waits for SIGTERM or SIGINT, then lets workflows and requests finish (up to the shutdown
// timeout) and stops; or steps down when a successor takes over.
void serve_until_signal(Daemon& d, const proxy::ProxyConfig& config) {
  asio::signal_set signals(*d.waiting, SIGTERM, SIGINT);
  int received = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) {
      received = sig;
    }
  });
  d.waiting->run();
  if (received == 0 && d.succession->took_over()) {
    step_down(d);
    return;
  }
  fmt::print(stderr, "handoff: {} received; finishing {} open connection(s), up to {}\n",
             received == SIGTERM ? "SIGTERM" : "SIGINT", d.server->connections(),
             format_duration(config.shutdown_timeout));
  if (const int running = d.control->running_operations(); running > 0) {
    fmt::print(stderr,
               "handoff: waiting up to {} for {} running operation(s) (a deploy, swap, rollback "
               "or log follow) to end\n",
               format_duration(config.shutdown_timeout), running);
  }
  if (d.acme) {
    d.acme->stop();  // an order in progress is abandoned; the next start orders again
  }
  d.health->stop();
  d.deaths->stop();
  d.canaries->stop();  // a rollback or promotion it runs stops at its next wait
  d.takeover->stop();
  d.control->stop(config.shutdown_timeout);
  d.server->shutdown();
  fmt::print(stderr, "handoff: stopped\n");
}

// Tells the process taken over from that this one accepts; from then on this process writes
// to the old one's stdout and stderr when it was started by `handoff upgrade`.
void finish_takeover(Daemon& d, TakeoverClient& client, Inheritance& inherited) {
  if (const char* inherit = std::getenv("HANDOFF_INHERIT_OUTPUT");
      inherit != nullptr && std::string_view(inherit) == "1") {
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(inherited.out.get(), STDOUT_FILENO);
    ::dup2(inherited.err.get(), STDERR_FILENO);
    ::unsetenv("HANDOFF_INHERIT_OUTPUT");
  }
  inherited.out.reset();
  inherited.err.reset();
  try {
    client.ready();
    fmt::print(stderr, "handoff: took over from process {}\n", inherited.from);
  } catch (const std::exception& e) {
    fmt::print(stderr, "handoff: took over from process {} (it did not hear so: {})\n",
               inherited.from, e.what());
  }
  const std::string& own = d.succession->container();
  if (!inherited.container.empty() && !own.empty() && own != inherited.container) {
    d.retirement = std::make_unique<PredecessorRetirement>(inherited.container, own);
  }
}

}  // namespace

int run_command(const std::vector<std::string_view>& args) {
  RunOptions options;
  options.config.threads = usable_cores();
  const std::vector<Flag> flags = run_flags(options);
  Daemon daemon;
  std::optional<TakeoverClient> takeover;
  std::optional<Inheritance> inherited;
  try {
    auto extra = parse_flags(args, flags);
    if (options.help) {
      fmt::print("{}{}", kUsage, flags_help(flags));
      return 0;
    }
    complete_options(options, extra);
    raise_descriptor_limit();
    std::signal(SIGPIPE, SIG_IGN);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (options.takeover) {
      const std::string path = takeover_socket_path(control_socket_path(options.control_flag));
      if (containers::probe_unix_socket(path) == 0) {
        takeover.emplace(path);
        inherited = takeover->receive(kTakeoverWait);
      } else {
        // A front container keeps --takeover in its command: when the engine restarts it
        // (after a crash or a reboot) there is nobody to take over from, and it starts alone.
        fmt::print(stderr, "handoff: --takeover: no handoff answers on {}; starting on its own\n",
                   path);
      }
    }
    daemon = build_daemon(options, inherited ? &*inherited : nullptr);
    if (inherited) {
      // Last, when nothing else can fail: the paths move to this process.
      daemon.control->publish();
      daemon.takeover->publish();
    }
  } catch (const std::exception& e) {
    if (takeover) {
      takeover->fail(e.what());
    }
    fmt::print(stderr, "handoff: {}{}\n", takeover ? "--takeover: " : "", e.what());
    return 2;
  }
  start_daemon(daemon, options.config);
  if (takeover) {
    finish_takeover(daemon, *takeover, *inherited);
  }
  serve_until_signal(daemon, options.config);
  return 0;
}

}  // namespace handoff::control
